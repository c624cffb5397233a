# Copyright (c) mmavs contributors. All rights reserved.
"""The VGGish front end on sound that arrives in chunks.

A long video's sound does not fit in memory at once (an hour of 48 kHz
stereo is 1.4 GB of float32), so own-video inference feeds it through
these two stages, chunk by chunk, keeping only the last second or so:

- :class:`StreamingResampler`: :func:`scipy.signal.resample_poly` (what
  :func:`mmavs.datasets.audio.resample_waveform` runs on a whole waveform),
  computed piece by piece with the same result: each output sample is the
  same sum over the same input samples;
- :class:`LogMelStream`: the VGGish log-mel frames of a 16 kHz signal, any
  frame on request, computed with
  :func:`mmavs.datasets.audio.log_mel_spectrogram` on just the samples it
  covers.
"""
from math import gcd
from typing import Iterable, Iterator, Optional

import numpy as np

from .audio import (NUM_MEL_BINS, SAMPLE_RATE, STFT_HOP_LENGTH,
                    STFT_WINDOW_LENGTH, log_mel_spectrogram)


class StreamingResampler:
    """Polyphase resampling of a signal given in chunks.

    The concatenated outputs of :meth:`push` and :meth:`finish` equal
    ``resample_poly(signal, up, down)`` of the whole signal (up / down =
    target / original rate, reduced), to floating-point round-off: the
    filter is scipy's (Kaiser window, 10 * max(up, down) taps per side,
    zero padding at both ends), and each output sample is computed from a
    slice of the input that holds its whole support, with the slice
    starting on a multiple of ``down`` so that the filter phases line up.

    Args:
        orig_rate (int): Sample rate of the input.
        target_rate (int): Sample rate of the output.

    Examples:
        >>> import numpy as np
        >>> from scipy.signal import resample_poly
        >>> signal = np.random.default_rng(0).standard_normal(10000)
        >>> resampler = StreamingResampler(48000, 16000)
        >>> pieces = [resampler.push(signal[i:i + 777])
        ...           for i in range(0, 10000, 777)] + [resampler.finish()]
        >>> np.allclose(np.concatenate(pieces), resample_poly(signal, 1, 3))
        True
    """

    def __init__(self, orig_rate: int, target_rate: int) -> None:
        orig_rate, target_rate = int(orig_rate), int(target_rate)
        if orig_rate <= 0 or target_rate <= 0:
            raise ValueError('Sample rates must be positive, got '
                             f'{orig_rate} -> {target_rate}')
        common = gcd(orig_rate, target_rate)
        self.up, self.down = target_rate // common, orig_rate // common
        half_len = 10 * max(self.up, self.down)
        # scipy's filter, designed once (resample_poly designs it on every
        # call unless it is given; the given one is used as it is).
        self._filter = None
        if self.up != self.down:
            from scipy.signal import firwin
            self._filter = firwin(2 * half_len + 1,
                                  1. / max(self.up, self.down),
                                  window=('kaiser', 5.0))
        # scipy pads the filter in front so that output n is centred on
        # input n * down / up, then drops the first `lead` outputs.
        pre_pad = self.down - half_len % self.down
        self._lead = (half_len + pre_pad) // self.down
        self._first_tap = pre_pad
        self._last_tap = pre_pad + 2 * half_len
        self._buffer = np.zeros(0)
        self._buffer_start = 0  # input index of _buffer[0]
        self._received = 0
        self._emitted = 0

    def _support(self, output: int) -> tuple:
        """First and last input sample that output ``output`` uses."""
        phase = (output + self._lead) * self.down
        first = -(-(phase - self._last_tap) // self.up)
        return first, (phase - self._first_tap) // self.up

    def _compute(self, stop: int) -> np.ndarray:
        """Outputs ``[emitted, stop)``, from a slice of the buffer."""
        if stop <= self._emitted:
            return np.zeros(0)
        from scipy.signal import resample_poly
        first, _ = self._support(self._emitted)
        # A slice starting on a multiple of `down` maps its outputs onto
        # whole output indices: slice output m is output m + start*up/down.
        start = max(0, (first // self.down) * self.down)
        offset = start - self._buffer_start
        if offset < 0:
            raise RuntimeError('StreamingResampler dropped input it needs')
        piece = resample_poly(self._buffer[offset:], self.up, self.down,
                              window=self._filter)
        begin = self._emitted - start * self.up // self.down
        out = piece[begin:begin + stop - self._emitted]
        self._emitted = stop
        # Keep what the next outputs still need.
        keep = self._support(self._emitted)[0]
        keep = max(0, (keep // self.down) * self.down) - self._buffer_start
        if keep > 0:
            self._buffer = self._buffer[keep:]
            self._buffer_start += keep
        return out

    def push(self, samples: np.ndarray) -> np.ndarray:
        """Take more input; return the outputs it completes.

        Args:
            samples (np.ndarray): [n] float input samples.

        Returns:
            np.ndarray: float64 [m] output samples (m may be 0).
        """
        samples = np.asarray(samples, dtype=np.float64)
        if self.up == self.down:
            self._received += len(samples)
            self._emitted = self._received
            return samples
        self._buffer = np.concatenate([self._buffer, samples])
        self._received += len(samples)
        # Outputs whose last input sample has arrived.
        stop = (self._received * self.up + self._first_tap - 1) // \
            self.down - self._lead + 1
        return self._compute(max(stop, self._emitted))

    def finish(self) -> np.ndarray:
        """The last outputs (the input ends; zeros follow, as in scipy).

        Returns:
            np.ndarray: float64 [m]; the total count is
            ``ceil(n_in * up / down)``.
        """
        if self.up == self.down:
            return np.zeros(0)
        total = -(-self._received * self.up // self.down)
        return self._compute(total)


class LogMelStream:
    """VGGish log-mel frames of a 16 kHz signal that arrives in chunks.

    Frame ``j`` is the log-mel of the 400 samples from ``hop * j -
    offset``, zeros outside the signal: the same frame as row ``j`` of
    :func:`~mmavs.datasets.audio.log_mel_spectrogram` of the signal with
    ``offset`` zeros in front (the inferencer's padding). Frames are asked
    for in (weakly) increasing order; :meth:`release` drops what comes
    before a frame that is no longer needed, so memory holds about one
    example's worth of samples.

    Args:
        chunks (Iterable[np.ndarray]): The 16 kHz mono signal, float
            [n] pieces in order.
        offset (int): Zeros in front of the signal (samples).
    """

    def __init__(self, chunks: Iterable[np.ndarray], offset: int = 0) -> None:
        self._chunks: Optional[Iterator[np.ndarray]] = iter(chunks)
        self._offset = offset
        self._samples = np.zeros(0)
        self._samples_start = 0  # signal index of _samples[0]
        self._frames = np.zeros((0, NUM_MEL_BINS), np.float32)
        self._frames_start = 0

    def _sample_stop(self) -> int:
        return self._samples_start + len(self._samples)

    def _pull(self, until: int) -> None:
        """Read chunks until the samples reach ``until`` (signal index) or
        the signal ends."""
        pieces = [self._samples]
        stop = self._sample_stop()
        while stop < until and self._chunks is not None:
            try:
                piece = np.asarray(next(self._chunks), dtype=np.float64)
            except StopIteration:
                self._chunks = None
                break
            pieces.append(piece)
            stop += len(piece)
        if len(pieces) > 1:
            self._samples = np.concatenate(pieces)

    def frames(self, first: int, stop: int) -> np.ndarray:
        """Frames ``[first, stop)``.

        Args:
            first (int): First frame (>= the last released one).
            stop (int): One past the last frame.

        Returns:
            np.ndarray: float32 [stop - first, 64].

        Raises:
            RuntimeError: ``first`` was released already.
        """
        if first < self._frames_start:
            raise RuntimeError(f'log-mel frame {first} was released '
                               f'(frames start at {self._frames_start})')
        have = self._frames_start + len(self._frames)
        if stop > have:
            begin = max(have, first)
            low = begin * STFT_HOP_LENGTH - self._offset
            high = (stop - 1) * STFT_HOP_LENGTH - self._offset + \
                STFT_WINDOW_LENGTH
            self._pull(high)
            block = self._window(low, high)
            new = log_mel_spectrogram(block, SAMPLE_RATE)
            if begin > have:  # nothing between have and begin is needed
                self._frames = np.zeros((0, NUM_MEL_BINS), np.float32)
                self._frames_start = begin
            self._frames = np.concatenate([self._frames, new])
        start = first - self._frames_start
        return self._frames[start:start + stop - first]

    def _window(self, low: int, high: int) -> np.ndarray:
        """Samples [low, high) of the signal (unpadded indices), zeros
        outside it."""
        block = np.zeros(high - low)
        begin = max(low, self._samples_start)
        end = min(high, self._sample_stop())
        if begin < end:
            block[begin - low:end - low] = self._samples[
                begin - self._samples_start:end - self._samples_start]
        return block

    def release(self, frame: int) -> None:
        """Forget frames before ``frame`` and the samples only they use.

        Args:
            frame (int): The earliest frame still needed.
        """
        drop = frame - self._frames_start
        if drop > 0:
            self._frames = self._frames[drop:]
            self._frames_start = frame
        first_sample = frame * STFT_HOP_LENGTH - self._offset
        drop = first_sample - self._samples_start
        if drop > 0:
            self._samples = self._samples[drop:]
            self._samples_start = first_sample
