# Copyright (c) mmavs contributors. All rights reserved.
"""The VGGish log-mel audio front end and audio file reading.

AVSBench feeds VGGish one 0.96 s log-mel example per video frame. This module
reproduces the VGGish input recipe in vectorised numpy:

1. mono (mean over channels), resampled to 16 kHz;
2. frames of 25 ms (400 samples) every 10 ms (160 samples), each multiplied
   by a periodic Hann window and zero-padded to a 512-point FFT;
3. the magnitude spectrum (257 bins) times a 64-band HTK-mel matrix over
   125-7500 Hz (triangles built in the mel domain on the linear FFT bin
   centres, the DC bin zeroed, no area normalisation);
4. ``log(mel + 0.01)``;
5. non-overlapping groups of 96 frames (0.96 s), so one second of audio gives
   one example and the remainder is dropped.

The result has shape [N, 1, 96, 64] (examples, channel, time, mel bin).

It also reads waveforms from audio files (soundfile) and from the sound track
of videos (through :mod:`mmavs.datasets.video_io`, PyAV), and loads the
released log-mel ``.pkl`` files without trusting arbitrary pickles. Nothing
here depends on mmengine or mmseg, so the module can be used on its own.

Differences from the original VGGish code: resampling uses
:func:`scipy.signal.resample_poly` instead of ``resampy``; for 16 kHz input
(all AVSBench wavs) the output is identical.
"""
import io
import os
import os.path as osp
import pickle
from math import gcd
from typing import Optional, Tuple, Union

import numpy as np

from .errors import AVSDataError
from .video_io import read_audio_track

#: Sample rate VGGish works at.
SAMPLE_RATE = 16000
#: 25 ms analysis window at 16 kHz.
STFT_WINDOW_LENGTH = 400
#: 10 ms hop at 16 kHz.
STFT_HOP_LENGTH = 160
#: The window is zero-padded to the next power of two.
FFT_LENGTH = 512
NUM_MEL_BINS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
#: Added before the log so that silence maps to log(0.01), not -inf.
LOG_OFFSET = 0.01
#: 0.96 s of 10 ms frames per example, examples do not overlap.
EXAMPLE_NUM_FRAMES = 96
#: Shape of one example as released in the AVSBench ``.pkl`` files.
EXAMPLE_SHAPE = (1, EXAMPLE_NUM_FRAMES, NUM_MEL_BINS)
#: Seconds of sound one example covers (0.96).
EXAMPLE_SECONDS = EXAMPLE_NUM_FRAMES * STFT_HOP_LENGTH / SAMPLE_RATE
#: A sound whose peak stays below this (-80 dBFS) counts as silent.
SILENCE_PEAK = 1e-4

#: Extensions read with soundfile; anything else goes through PyAV (FFmpeg),
#: which also reads the sound track of video containers.
SOUNDFILE_EXTENSIONS = ('.wav', '.flac', '.ogg', '.oga', '.aif', '.aiff')

PathLike = Union[str, 'os.PathLike[str]']


def hertz_to_mel(frequencies_hertz: Union[float, np.ndarray]) -> np.ndarray:
    """Convert frequencies to the HTK mel scale, ``1127 ln(1 + f / 700)``.

    Args:
        frequencies_hertz (float | np.ndarray): Frequencies in Hz.

    Returns:
        np.ndarray: The same shape, in mel.
    """
    return 1127.0 * np.log(1.0 + np.asarray(frequencies_hertz) / 700.0)


def mel_filterbank(num_mel_bins: int = NUM_MEL_BINS,
                   num_spectrogram_bins: int = FFT_LENGTH // 2 + 1,
                   sample_rate: int = SAMPLE_RATE,
                   lower_edge_hertz: float = MEL_MIN_HZ,
                   upper_edge_hertz: float = MEL_MAX_HZ) -> np.ndarray:
    """The VGGish mel weight matrix mapping FFT magnitudes to mel bands.

    Band ``i`` is a triangle over the mel axis with corners at band edges
    ``i``, ``i + 1`` and ``i + 2`` of ``num_mel_bins + 2`` equally spaced mel
    values between the two edge frequencies. The triangles are evaluated at
    the mel value of each linear FFT bin centre and are not area-normalised.
    The DC bin gets no weight.

    Args:
        num_mel_bins (int): Number of mel bands. Defaults to 64.
        num_spectrogram_bins (int): Number of FFT bins (FFT length // 2 + 1).
            Defaults to 257.
        sample_rate (int): Sample rate of the analysed audio. Defaults to
            16000.
        lower_edge_hertz (float): Lower edge of the lowest band. Defaults to
            125.
        upper_edge_hertz (float): Upper edge of the highest band. Defaults to
            7500.

    Returns:
        np.ndarray: float64 [num_spectrogram_bins, num_mel_bins].
    """
    nyquist = sample_rate / 2.0
    if not 0.0 <= lower_edge_hertz < upper_edge_hertz <= nyquist:
        raise ValueError('mel_filterbank needs 0 <= lower_edge_hertz < '
                         'upper_edge_hertz <= sample_rate / 2, got '
                         f'{lower_edge_hertz}, {upper_edge_hertz}, '
                         f'{sample_rate}')
    bin_mels = hertz_to_mel(np.linspace(0.0, nyquist,
                                        num_spectrogram_bins))[:, None]
    edges = np.linspace(
        hertz_to_mel(lower_edge_hertz), hertz_to_mel(upper_edge_hertz),
        num_mel_bins + 2)
    lower, center, upper = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]
    rising = (bin_mels - lower) / (center - lower)
    falling = (upper - bin_mels) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    # VGGish drops the DC bin: with lower_edge_hertz = 0 it would otherwise
    # leak the signal offset into the first band.
    weights[0, :] = 0.0
    return weights


_MEL_MATRIX = mel_filterbank()


def periodic_hann(length: int) -> np.ndarray:
    """The periodic Hann window of ``length`` samples, computed as
    ``scipy.signal.get_window('hann', length, fftbins=True)`` does (bit for
    bit), without importing scipy.signal (over a second at start-up).

    Args:
        length (int): Samples.

    Returns:
        np.ndarray: float64 [length].
    """
    angles = np.linspace(-np.pi, np.pi, length + 1)
    window = np.zeros(length + 1)
    for k, weight in enumerate((0.5, 0.5)):
        window += weight * np.cos(k * angles)
    return window[:length]


# The periodic ("DFT-even") Hann window VGGish uses, not numpy's symmetric
# one: w[n] = 0.5 - 0.5 cos(2 pi n / N).
_HANN_WINDOW = periodic_hann(STFT_WINDOW_LENGTH)


def to_mono(waveform: np.ndarray) -> np.ndarray:
    """Average the channels of a waveform.

    Args:
        waveform (np.ndarray): [num_samples] or [num_samples, num_channels]
            (soundfile's layout).

    Returns:
        np.ndarray: [num_samples].
    """
    waveform = np.asarray(waveform)
    if waveform.ndim == 1:
        return waveform
    if waveform.ndim != 2:
        raise ValueError('A waveform must be [num_samples] or [num_samples, '
                         f'num_channels], got shape {waveform.shape}')
    return waveform.mean(axis=1)


def _to_float(waveform: np.ndarray) -> np.ndarray:
    """Integer PCM -> float in [-1, 1) the way VGGish scales int16 wavs."""
    waveform = np.asarray(waveform)
    if np.issubdtype(waveform.dtype, np.integer):
        scale = float(np.iinfo(waveform.dtype).max) + 1.0
        return waveform.astype(np.float64) / scale
    return waveform.astype(np.float64, copy=False)


def resample_waveform(waveform: np.ndarray,
                      orig_sample_rate: int,
                      target_sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Resample a mono waveform with a polyphase filter.

    Args:
        waveform (np.ndarray): [num_samples] float.
        orig_sample_rate (int): Its sample rate.
        target_sample_rate (int): The wanted rate. Defaults to 16000.

    Returns:
        np.ndarray: float64 [round(num_samples * target / orig)].
    """
    orig_sample_rate = int(orig_sample_rate)
    target_sample_rate = int(target_sample_rate)
    if orig_sample_rate <= 0 or target_sample_rate <= 0:
        raise ValueError('Sample rates must be positive, got '
                         f'{orig_sample_rate} -> {target_sample_rate}')
    waveform = np.asarray(waveform, dtype=np.float64)
    if orig_sample_rate == target_sample_rate:
        return waveform
    from scipy.signal import resample_poly
    common = gcd(orig_sample_rate, target_sample_rate)
    return resample_poly(waveform, target_sample_rate // common,
                         orig_sample_rate // common)


def log_mel_spectrogram(waveform: np.ndarray,
                        sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """The VGGish log-mel spectrogram of a waveform.

    Args:
        waveform (np.ndarray): [num_samples] or [num_samples, num_channels];
            float in [-1, 1] or integer PCM (scaled by 1 / 2**(bits - 1)).
        sample_rate (int): Its sample rate; resampled to 16 kHz if different.

    Returns:
        np.ndarray: float32 [num_frames, 64] with
        ``num_frames = 1 + (num_samples_16k - 400) // 160`` (0 when the
        audio is shorter than one 25 ms window).
    """
    samples = resample_waveform(
        to_mono(_to_float(waveform)), sample_rate, SAMPLE_RATE)
    if samples.shape[0] < STFT_WINDOW_LENGTH:
        return np.zeros((0, NUM_MEL_BINS), dtype=np.float32)
    frames = np.lib.stride_tricks.sliding_window_view(
        samples, STFT_WINDOW_LENGTH)[::STFT_HOP_LENGTH]
    magnitude = np.abs(np.fft.rfft(frames * _HANN_WINDOW, n=FFT_LENGTH))
    mel = magnitude @ _MEL_MATRIX
    return np.log(mel + LOG_OFFSET).astype(np.float32)


def silent_log_mel_example() -> np.ndarray:
    """The VGGish log-mel example of silence: float32 [1, 96, 64].

    Silence has no energy in any mel band, so every value is
    ``log(LOG_OFFSET)``: what the front end gives for a silent ``.wav``.
    """
    return np.full(EXAMPLE_SHAPE, np.log(LOG_OFFSET), dtype=np.float32)


def waveform_to_log_mel_examples(waveform: np.ndarray,
                                 sample_rate: int) -> np.ndarray:
    """Turn a waveform into VGGish input examples, one per 0.96 s.

    Args:
        waveform (np.ndarray): [num_samples] or [num_samples, num_channels];
            float in [-1, 1] or integer PCM.
        sample_rate (int): Its sample rate (resampled to 16 kHz).

    Returns:
        np.ndarray: float32 [N, 1, 96, 64]; ``N = num_frames // 96`` (one
        example per second of audio; a trailing part shorter than 0.96 s is
        dropped, so audio shorter than 0.96 s gives N = 0).

    Examples:
        >>> import numpy as np
        >>> t = np.arange(16000 * 5) / 16000
        >>> waveform_to_log_mel_examples(np.sin(2 * np.pi * 440 * t),
        ...                              16000).shape
        (5, 1, 96, 64)
    """
    log_mel = log_mel_spectrogram(waveform, sample_rate)
    # The examples do not overlap: plain consecutive blocks.
    num_examples = log_mel.shape[0] // EXAMPLE_NUM_FRAMES
    examples = log_mel[:num_examples * EXAMPLE_NUM_FRAMES]
    return examples.reshape(num_examples, 1, EXAMPLE_NUM_FRAMES, NUM_MEL_BINS)


def fit_num_examples(examples: np.ndarray, num_examples: int) -> np.ndarray:
    """Truncate, or pad by repeating the last example, to a fixed count.

    AVSBench pairs example ``t`` with frame ``t``; a clip whose audio is a
    little short repeats its last example, as the AVSBench loaders do.

    Args:
        examples (np.ndarray): [N, ...] with N >= 1.
        num_examples (int): The wanted count.

    Returns:
        np.ndarray: [num_examples, ...].
    """
    if examples.shape[0] == 0:
        raise ValueError('Cannot pad zero examples; at least one is needed.')
    if examples.shape[0] >= num_examples:
        return examples[:num_examples]
    pad = np.repeat(examples[-1:], num_examples - examples.shape[0], axis=0)
    return np.concatenate([examples, pad], axis=0)


def read_audio_file(path: PathLike) -> Tuple[np.ndarray, int]:
    """Read a sound file (wav, flac, ogg, aiff) with soundfile.

    Args:
        path (str | PathLike): The file.

    Returns:
        tuple[np.ndarray, int]: The mono float64 waveform [num_samples] in
        [-1, 1] (int16 PCM divided by 32768) and its sample rate.

    Raises:
        AVSDataError: The file is missing, cannot be decoded or holds no
            samples.
    """
    import soundfile
    if not osp.isfile(path):
        raise AVSDataError(f'{os.fspath(path)}: audio file is missing')
    if osp.getsize(path) == 0:
        raise AVSDataError(f'{os.fspath(path)}: audio file is zero-length '
                           '(0 bytes)')
    try:
        data, sample_rate = soundfile.read(
            os.fspath(path), dtype='float64', always_2d=True)
    except Exception as error:  # soundfile raises several types
        raise AVSDataError(f'{os.fspath(path)}: cannot read audio '
                           f'({type(error).__name__}: {error})') from error
    if data.shape[0] == 0:
        raise AVSDataError(f'{os.fspath(path)}: audio is zero-length '
                           '(no samples)')
    check_finite_samples(data, os.fspath(path), int(sample_rate))
    return to_mono(data), int(sample_rate)


def check_finite_samples(samples: np.ndarray, name: str,
                         sample_rate: int) -> None:
    """Refuse NaN or infinite samples (a float wav can hold them; they would
    turn every log-mel value and the model's output into NaN).

    Args:
        samples (np.ndarray): [S] or [S, C] samples (time first).
        name (str): The file, for the message.
        sample_rate (int): Samples per second, to say where.

    Raises:
        AVSDataError: Some sample is NaN or infinite.
    """
    finite = np.isfinite(samples)
    if finite.all():
        return
    per_time = finite.reshape(finite.shape[0], -1).all(axis=1)
    bad = np.flatnonzero(~per_time)
    raise AVSDataError(
        f'{name}: the audio holds {int((~finite).sum())} NaN or infinite '
        f'samples (the first at {bad[0] / sample_rate:.3f} s); mmavs does not '
        'guess what they should have been')


def read_video_soundtrack(path: PathLike) -> Tuple[np.ndarray, int]:
    """Decode the first audio stream of a video (or audio) file as mono.

    A data set clip's examples start with its first sample, so the track's
    start time on the video's time line is not used here.

    Args:
        path (str | PathLike): Any container FFmpeg reads (mp4, mkv, avi,
            webm, mp3, m4a, ...).

    Returns:
        tuple[np.ndarray, int]: The mono float64 waveform [num_samples] (the
        mean of the channels) and its sample rate.

    Raises:
        VideoReadError: An :class:`AVSDataError`; see
            :func:`mmavs.datasets.video_io.read_audio_track`.
    """
    track = read_audio_track(path)
    return track.samples.astype(np.float64).mean(axis=0), track.sample_rate


def load_waveform(path: PathLike,
                  sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read a mono waveform from an audio or video file at a given rate.

    Args:
        path (str | PathLike): ``.wav``/``.flac``/``.ogg``/``.aiff`` files
            are read with soundfile, anything else (videos, mp3, m4a) with
            PyAV.
        sample_rate (int): Output sample rate. Defaults to 16000.

    Returns:
        np.ndarray: float64 [num_samples] in [-1, 1].

    Raises:
        AVSDataError: See :func:`read_audio_file` (sound files) and
            :func:`mmavs.datasets.video_io.read_audio_track` (anything
            else).
    """
    if osp.splitext(os.fspath(path))[1].lower() in SOUNDFILE_EXTENSIONS:
        waveform, orig_rate = read_audio_file(path)
    else:
        waveform, orig_rate = read_video_soundtrack(path)
    return resample_waveform(waveform, orig_rate, sample_rate)


def file_to_log_mel_examples(path: PathLike) -> np.ndarray:
    """VGGish examples of an audio file or of a video's sound track.

    Args:
        path (str | PathLike): See :func:`load_waveform`.

    Returns:
        np.ndarray: float32 [N, 1, 96, 64], one example per 0.96 s.

    Raises:
        AVSDataError: The file cannot be read or is empty.
    """
    return waveform_to_log_mel_examples(load_waveform(path), SAMPLE_RATE)


# Globals a pickled CPU tensor or numpy array refers to; nothing else may be
# resolved while unpickling, so a crafted .pkl cannot run code.
_SAFE_PICKLE_GLOBALS = {
    ('torch._utils', '_rebuild_tensor_v2'),
    ('torch._utils', '_rebuild_tensor'),
    ('torch._utils', '_rebuild_parameter'),
    ('collections', 'OrderedDict'),
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
}


def _load_storage_bytes(data: bytes):
    """Replacement for ``torch.storage._load_from_bytes``.

    The storage of a pickled tensor is itself a legacy ``torch.save`` blob,
    which ``weights_only`` loading restricts to tensor data.
    """
    import torch
    return torch.load(io.BytesIO(data), map_location='cpu', weights_only=True)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles tensors and arrays only."""

    def find_class(self, module: str, name: str):
        if (module, name) == ('torch.storage', '_load_from_bytes'):
            return _load_storage_bytes
        if (module, name) in _SAFE_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f'refusing to load {module}.{name}: only pickled tensors and '
            'numpy arrays are accepted')


def load_pickled_array(source: Union[PathLike, bytes],
                       name: Optional[str] = None) -> np.ndarray:
    """Load a pickled torch tensor or numpy array as a numpy array.

    The AVSBench release stores each clip's log-mel examples as a torch
    tensor written with :func:`pickle.dump`. This reads those files (and
    numpy pickles) without executing anything but tensor reconstruction.
    A tensor written with ``torch.save`` (a zip archive) is read with
    ``torch.load(weights_only=True)``.

    Args:
        source (str | PathLike | bytes): A file path or the file's bytes.
        name (str, optional): The file name for error messages when
            ``source`` is bytes.

    Returns:
        np.ndarray: The array (float32 for the released files).

    Raises:
        AVSDataError: The file is missing or does not hold a tensor/array.
    """
    if isinstance(source, bytes):
        data, name = source, name or '<bytes>'
    else:
        name = name or os.fspath(source)
        if not osp.isfile(source):
            raise AVSDataError(f'{name}: pickle file is missing')
        with open(source, 'rb') as file:
            data = file.read()
    if not data:
        raise AVSDataError(f'{name}: pickle file is empty (zero bytes)')
    try:
        if data[:4] == b'PK\x03\x04':  # torch.save's zip format
            import torch
            obj = torch.load(
                io.BytesIO(data), map_location='cpu', weights_only=True)
        else:
            obj = _ArrayUnpickler(io.BytesIO(data)).load()
    except Exception as error:
        raise AVSDataError(f'{name}: cannot load a tensor/array: it is not '
                           'a pickled (or torch.save-d) tensor or array, or '
                           'it is cut short or holds other objects '
                           f'({type(error).__name__}: {error})') from error
    if hasattr(obj, 'detach'):  # a torch tensor
        obj = obj.detach().cpu().numpy()
    if not isinstance(obj, np.ndarray):
        raise AVSDataError(f'{name}: expected a pickled tensor or array, '
                           f'found {type(obj).__name__}')
    return obj
