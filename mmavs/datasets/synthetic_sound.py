# Copyright (c) mmavs contributors. All rights reserved.
"""The sounds of the synthetic AVSBench categories.

A category sounds in one of several kinds (:data:`SOUND_KINDS`), always
around its own frequency, so that a recipe can be checked on sounds other
than the pure tones it was tuned on:

- ``'tone'``: a pure tone (the original generator).
- ``'harmonic'``: the fundamental plus overtones 2-4, with per-category
  weights (a timbre); partials above the VGGish mel range (7.5 kHz) are
  dropped.
- ``'am'``: a tone whose amplitude is modulated at a per-category rate.
- ``'fm'``: a tone whose frequency is modulated at a per-category rate and
  depth.
- ``'noise_band'``: white noise band-passed (FFT masking) to one third of an
  octave around the frequency.
- ``'chirp'``: a logarithmic sweep around the frequency, once per VGGish
  example (0.96 s), up or down and over a range set per category.

``'mixed'`` gives each category one of these kinds, by its index
(:data:`MIXED_ORDER`). Every kind has the RMS of a unit sine, so kinds do
not differ in loudness.
"""
from typing import Callable, List, Sequence, Tuple

import numpy as np

from .audio import (EXAMPLE_NUM_FRAMES, EXAMPLE_SECONDS, MEL_MAX_HZ,
                    MEL_MIN_HZ, SAMPLE_RATE, STFT_HOP_LENGTH)

#: Kinds of sound a category can make.
SOUND_KINDS = ('tone', 'harmonic', 'am', 'fm', 'noise_band', 'chirp')
#: ``SOUND_KINDS`` plus ``'mixed'`` (a kind per category).
SOUND_KIND_CHOICES = SOUND_KINDS + ('mixed', )
#: The kind of category ``i`` under ``'mixed'``: ``MIXED_ORDER[i % 6]``. The
#: kinds furthest from a pure tone come first, so that even a few
#: categories mix very different sounds.
MIXED_ORDER = ('chirp', 'fm', 'noise_band', 'harmonic', 'am', 'tone')

# Per-category tables, indexed like ``synthetic.CATEGORY_SPECS``.
#: Weights of overtones 2, 3 and 4 (the fundamental has weight 1).
HARMONIC_WEIGHTS = ((0.7, 0.5, 0.3), (0.3, 0.6, 0.2), (0.5, 0.2, 0.5),
                    (0.6, 0.4, 0.1), (0.4, 0.7, 0.4), (0.8, 0.3, 0.2),
                    (0.5, 0.5, 0.5), (0.3, 0.3, 0.6))
#: Amplitude modulation rates in Hz (depth :data:`AM_DEPTH`).
AM_RATES = (4.0, 7.0, 11.0, 5.5, 9.0, 3.0, 13.0, 6.5)
AM_DEPTH = 0.8
#: Frequency modulation (rate in Hz, peak deviation as a fraction of the
#: frequency).
FM_PARAMS = ((5.0, 0.03), (8.0, 0.02), (3.0, 0.05), (6.0, 0.015),
             (10.0, 0.04), (4.0, 0.025), (7.0, 0.035), (2.5, 0.01))
#: Chirps: (direction, +1 up or -1 down, range in octaves), centred on the
#: frequency in log scale.
CHIRP_PARAMS = ((1, 1.0), (-1, 0.6), (1, 0.8), (-1, 0.5), (1, 0.7),
                (-1, 0.9), (1, 0.6), (-1, 0.4))
#: Width of a noise band in octaves.
NOISE_BAND_OCTAVES = 1.0 / 3.0

#: A source: ``(times, begin, end) -> samples begin:end``, RMS of a unit
#: sine.
Source = Callable[[np.ndarray, int, int], np.ndarray]


def category_sound(index: int, kind: str) -> dict:
    """The sound of category ``index`` in a kind.

    Args:
        index (int): Category index (0-7), as in ``CATEGORY_SPECS``.
        kind (str): One of :data:`SOUND_KIND_CHOICES`.

    Returns:
        dict: ``kind`` (never ``'mixed'``) and that kind's parameters:
        ``weights`` (harmonic), ``rate`` (am, fm), ``depth`` (fm),
        ``direction`` and ``octaves`` (chirp), ``octaves`` (noise_band).
    """
    if kind not in SOUND_KIND_CHOICES:
        raise ValueError(f'sound kind must be one of {SOUND_KIND_CHOICES}, '
                         f'got {kind!r}')
    if kind == 'mixed':
        kind = MIXED_ORDER[index % len(MIXED_ORDER)]
    sound = dict(kind=kind)
    if kind == 'harmonic':
        sound['weights'] = HARMONIC_WEIGHTS[index]
    elif kind == 'am':
        sound['rate'] = AM_RATES[index]
    elif kind == 'fm':
        sound['rate'], sound['depth'] = FM_PARAMS[index]
    elif kind == 'chirp':
        sound['direction'], sound['octaves'] = CHIRP_PARAMS[index]
    elif kind == 'noise_band':
        sound['octaves'] = NOISE_BAND_OCTAVES
    return sound


def squeeze_frequencies(frequencies: Sequence[float],
                        spread: float) -> List[float]:
    """Move frequencies towards their geometric mean, in log scale.

    Args:
        frequencies (Sequence[float]): In Hz.
        spread (float): 1 keeps them (exactly), 0 puts them all on the
            mean; in between scales their log distance to the mean.

    Returns:
        list[float]: The new frequencies, in the same order.
    """
    if spread == 1.0:
        return [float(f) for f in frequencies]
    logs = np.log(np.asarray(frequencies, dtype=float))
    centre = logs.mean()
    return np.exp(centre + spread * (logs - centre)).tolist()


def _band_noise(rng: np.random.Generator, num_samples: int, low: float,
                high: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(num_samples))
    freqs = np.fft.rfftfreq(num_samples, 1.0 / SAMPLE_RATE)
    spectrum[(freqs < low) | (freqs > high)] = 0
    band = np.fft.irfft(spectrum, num_samples)
    return band / (np.sqrt(2.0) * np.sqrt(np.mean(band**2)))


def _chirp(freq: float, direction: int, octaves: float, offset: float,
           phase: float, times: np.ndarray) -> np.ndarray:
    # Keep the sweep inside the mel range, or part of it would not show.
    octaves = max(
        0.0,
        min(octaves, 2 * np.log2(MEL_MAX_HZ / freq),
            2 * np.log2(freq / MEL_MIN_HZ)))
    position = np.mod(times / EXAMPLE_SECONDS + offset, 1.0) - 0.5
    instantaneous = freq * 2.0**(direction * octaves * position)
    # Integrating the frequency keeps the phase continuous at the wraps.
    return np.sin(2 * np.pi * np.cumsum(instantaneous) / SAMPLE_RATE + phase)


def make_source(rng: np.random.Generator, sound: dict, freq: float,
                phase: float, times: np.ndarray) -> Source:
    """A unit source of one object.

    ``'tone'`` draws nothing from ``rng``; the other kinds draw what they
    need (modulation phases, noise, sweep offsets).

    Args:
        rng (np.random.Generator): The clip's generator.
        sound (dict): From :func:`category_sound`.
        freq (float): The object's frequency in Hz (jittered).
        phase (float): Its start phase in radians.
        times (np.ndarray): Sample times of the whole clip in seconds.

    Returns:
        Callable: ``source(times, begin, end)``, the samples ``begin:end``.
    """
    kind = sound['kind']
    if kind == 'tone':
        # The expression of the original generator, kept as it was, so the
        # default setting writes the very same bits.
        return lambda t, b, e: np.sin(2 * np.pi * freq * t[b:e] + phase)
    if kind == 'harmonic':
        partials = [(1, 1.0)] + [
            (k, w) for k, w in enumerate(sound['weights'], start=2)
            if k * freq <= MEL_MAX_HZ
        ]
        norm = np.sqrt(sum(w * w for _, w in partials))
        return lambda t, b, e: sum(
            w * np.sin(k * (2 * np.pi * freq * t[b:e] + phase))
            for k, w in partials) / norm
    if kind == 'am':
        rate, depth, mod_phase = sound['rate'], AM_DEPTH, rng.uniform(
            0, 2 * np.pi)
        norm = np.sqrt(1 + depth**2 / 2)
        return lambda t, b, e: (1 + depth * np.sin(
            2 * np.pi * rate * t[b:e] + mod_phase)) * np.sin(
                2 * np.pi * freq * t[b:e] + phase) / norm
    if kind == 'fm':
        rate, mod_phase = sound['rate'], rng.uniform(0, 2 * np.pi)
        index = sound['depth'] * freq / rate
        return lambda t, b, e: np.sin(2 * np.pi * freq * t[b:e] + index * np.
                                      sin(2 * np.pi * rate * t[b:e] +
                                          mod_phase) + phase)
    if kind == 'noise_band':
        half = sound['octaves'] / 2
        band = _band_noise(rng, len(times), freq * 2.0**-half,
                           min(freq * 2.0**half, MEL_MAX_HZ))
        return lambda t, b, e: band[b:e]
    if kind == 'chirp':
        wave = _chirp(freq, sound['direction'], sound['octaves'],
                      rng.uniform(0, 1), phase, times)
        return lambda t, b, e: wave[b:e]
    raise ValueError(f'Unknown sound kind {kind!r}')


def synthesise_audio(rng: np.random.Generator, sounds: Sequence[dict],
                     schedule: List[List[int]], noise: float,
                     loudness_db: Tuple[float, float] = (0.0, 0.0)
                     ) -> np.ndarray:
    """int16 16 kHz audio of ``len(schedule)`` seconds.

    Segment ``t`` is the sum of the sounds of ``schedule[t]``. Segments
    follow the 0.96 s grid of the VGGish examples (the last one runs to the
    end), not whole seconds: example ``t``, which the model pairs with frame
    ``t``, then hears exactly the objects labelled in frame ``t``.

    Args:
        rng (np.random.Generator): The clip's generator.
        sounds (Sequence[dict]): Per object, its category's
            :func:`category_sound` plus ``frequency`` (Hz).
        schedule (list[list[int]]): Per second, the sounding objects.
        noise (float): Std of the white noise added (full scale 1).
        loudness_db (tuple[float, float]): Range of a random gain per
            object in dB; a range of one value draws nothing.

    Returns:
        np.ndarray: int16 samples.
    """
    num_samples = len(schedule) * SAMPLE_RATE
    step = EXAMPLE_NUM_FRAMES * STFT_HOP_LENGTH  # 0.96 s in samples
    starts = [t * step for t in range(len(schedule))] + [num_samples]
    times = np.arange(num_samples) / SAMPLE_RATE
    ramp = int(0.005 * SAMPLE_RATE)
    low_db, high_db = loudness_db
    sources: List[Tuple[float, Source]] = []
    for sound in sounds:
        freq = sound['frequency'] * rng.uniform(0.98, 1.02)
        amp = rng.uniform(0.2, 0.4)
        phase = rng.uniform(0, 2 * np.pi)
        source = make_source(rng, sound, freq, phase, times)
        if low_db != high_db:
            amp *= 10.0**(rng.uniform(low_db, high_db) / 20)
        elif low_db != 0:
            amp *= 10.0**(low_db / 20)
        sources.append((amp, source))
    waveform = np.zeros(num_samples)
    for t, sounding in enumerate(schedule):
        begin, end = starts[t], starts[t + 1]
        # Short fades avoid clicks (broadband energy) at segment borders.
        envelope = np.ones(end - begin)
        envelope[:ramp] = np.linspace(0, 1, ramp)
        envelope[-ramp:] = np.linspace(1, 0, ramp)
        for index in sounding:
            amp, source = sources[index]
            waveform[begin:end] += envelope * amp * source(times, begin, end)
    waveform += rng.normal(0.0, noise, size=waveform.shape)
    return np.round(np.clip(waveform, -1, 1) * 32767).astype(np.int16)
