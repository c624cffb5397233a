# Copyright (c) mmavs contributors. All rights reserved.
"""Assemble a sound track from decoded audio frames, as FFmpeg plays it.

:func:`mmavs.datasets.video_io.read_audio_track` decodes a file's audio
packets one by one and hands each decoded frame, or each packet that does
not decode, to a :class:`SoundTrackBuilder`. The builder keeps the time
line: the time a skipped packet covered becomes silence, so the sound after
it stays at its true time, in sync with the picture. It also checks what it
assembled: no samples, NaN or infinite samples, or more than
:data:`MAX_AUDIO_LOSS` of the duration lost to undecodable packets are
errors; a smaller loss is one warning per file.
"""
import warnings
from typing import Callable, Iterator, List, Optional, Tuple

import numpy as np

from .errors import AVSDataWarning, VideoReadError

#: Share of a sound track's declared duration (the decoded duration when
#: none is declared) that undecodable packets may take, as silence, before
#: the file is refused.
MAX_AUDIO_LOSS = 0.1


def until_error(items: Iterator,
                on_error: Callable[[Exception], None]) -> Iterator:
    """The items of a PyAV iterator (``container.demux(...)``,
    ``container.decode(...)``), ending at its first error.

    FFmpeg raises in many types when a file is cut short or corrupt;
    ``on_error`` gets the error and either raises a clear one or returns,
    which ends the items (the caller keeps what came before).

    Args:
        items (Iterator): The PyAV iterator.
        on_error (Callable[[Exception], None]): Gets the error.

    Yields:
        The items (packets or frames).
    """
    while True:
        try:
            item = next(items)
        except StopIteration:
            return
        except Exception as error:  # FFmpeg errors come in many types
            on_error(error)
            return
        yield item


def seconds(value, time_base) -> Optional[float]:
    """A PyAV time (``pts``, ``duration``, ...) in seconds, or None."""
    if value is None or time_base is None:
        return None
    return float(value * time_base)


class SoundTrackBuilder:
    """Decoded sound on its time line, with silence where packets did not
    decode.

    A packet that fails to decode is held as pending. When a later packet
    decodes, the gap between the end of the samples so far and the time of
    the new frame (from their timestamps) is filled with silence. Pending
    packets that nothing decodes after are the end of a file cut short, not
    a gap: see :meth:`fail_at_end`.

    With ``keep=False`` nothing is accumulated: the samples go out as they
    are assembled (:meth:`drain`), so a long sound track can be checked
    (:attr:`peak`, the loss threshold) or streamed in constant memory.

    Args:
        name (str): The file, for messages.
        resampler (av.AudioResampler): Converts decoded frames to planar
            float at their own rate and layout.
        keep (bool): Keep the samples for :meth:`finish`. Defaults to True.
        quiet (bool): No warnings (a second pass over a file that was
            checked already). Defaults to False.
    """

    def __init__(self, name: str, resampler, keep: bool = True,
                 quiet: bool = False) -> None:
        self.name = name
        self.resampler = resampler
        self.keep = keep
        self.quiet = quiet
        self.chunks: List[np.ndarray] = []
        self.num_samples = 0
        #: Largest absolute sample value so far.
        self.peak = 0.0
        self.sample_rate: Optional[int] = None
        self.layout = ''
        self.channels = 0
        #: Stream time (s) of the first sample.
        self.first_time: Optional[float] = None
        #: (time, duration, error) of each packet skipped since the last
        #: decoded frame (seconds, or None where the file does not say).
        self.pending: List[tuple] = []
        self.num_skipped = 0
        #: Seconds of silence put in place of skipped packets, and the
        #: stream times that silence spans (first begin, last end).
        self.lost = 0.0
        self.lost_span: Optional[Tuple[float, float]] = None
        self.num_non_finite = 0
        self.first_non_finite: Optional[float] = None

    def skip(self, packet, error: Exception) -> None:
        """Hold a packet that did not decode.

        Args:
            packet (av.Packet): The packet.
            error (Exception): What decoding it raised.
        """
        self.pending.append((seconds(packet.pts, packet.time_base),
                             seconds(packet.duration, packet.time_base),
                             error))

    def add(self, frame) -> None:
        """Append a decoded frame, after the silence of pending packets.

        Args:
            frame (av.AudioFrame): The frame.
        """
        time = None if frame.time is None else float(frame.time)
        self.sample_rate = frame.sample_rate
        self.layout = frame.layout.name
        self.channels = len(frame.layout.channels)
        if self.pending:
            self._fill_gap(time, frame.samples, len(frame.layout.channels))
        if self.first_time is None:
            self.first_time = time
        if frame.format.name == 'fltp':
            # Already planar float (AAC, AC-3, Opus decode to it): the
            # resampler would only copy it.
            self._append(frame.to_ndarray())
            return
        for out in self.resampler.resample(frame):
            self._append(out.to_ndarray())

    def flush(self) -> None:
        """Append what the resampler still holds."""
        try:
            for out in self.resampler.resample(None):
                self._append(out.to_ndarray())
        except Exception:  # nothing buffered after a decoding failure
            pass

    def fail_at_end(self, error: Exception, allow_truncated: bool) -> None:
        """Decoding failed at the end of the file (reading stopped, or the
        last packets do not decode): raise, or, with ``allow_truncated``,
        warn and keep the samples so far.

        Args:
            error (Exception): The last error.
            allow_truncated (bool): Keep the samples decoded so far.

        Raises:
            VideoReadError: Nothing decoded at all, or not
                ``allow_truncated``.
        """
        detail = f'({type(error).__name__}: {error})'
        if not self.num_samples:
            what = (f'no audio packet decodes ({len(self.pending)} read)'
                    if self.pending else 'reading failed before the first '
                    'audio sample')
            raise VideoReadError(
                f'{self.name}: {what}; the sound track is corrupt or the '
                f'file is truncated {detail}') from error
        message = (f'{self.name}: audio decoding failed after '
                   f'{self.num_samples} samples; the file is truncated or '
                   f'corrupt {detail}')
        if not allow_truncated:
            raise VideoReadError(
                message + '; pass allow_truncated=True (CLI: '
                '--allow-truncated) to use the samples decoded before it'
            ) from error
        if not self.quiet:
            warnings.warn(message + '; using the samples decoded so far')
        self.pending = []

    def drain(self) -> List[np.ndarray]:
        """The chunks assembled since the last call (``keep=False``).

        Returns:
            list[np.ndarray]: float32 [C, n] pieces, in time order.
        """
        chunks, self.chunks = self.chunks, []
        return chunks

    def finish(self, origin: float,
               declared: Optional[float]) -> Tuple[np.ndarray, int, float,
                                                   str]:
        """Check the assembled track and return it.

        Args:
            origin (float): Stream time (s) of the start of the video's
                time line.
            declared (float, optional): The file's declared duration (s).

        Returns:
            tuple: float32 [C, S] samples (None with ``keep=False``), sample
            rate, start on the video's time line (s) and layout name.

        Raises:
            VideoReadError: No samples, NaN or infinite samples, or
                undecodable packets took more than :data:`MAX_AUDIO_LOSS`
                of the duration.
        """
        if self.num_samples == 0:
            raise VideoReadError(
                f'{self.name}: the audio stream holds no samples')
        if self.num_non_finite:
            raise VideoReadError(
                f'{self.name}: the sound track holds {self.num_non_finite} '
                'NaN or infinite sample values (the first at '
                f'{self.first_non_finite - origin:.3f} s); the sound cannot '
                'be used, re-encode it with finite samples')
        self._check_loss(origin, declared)
        samples = np.concatenate(self.chunks, axis=1).astype(
            np.float32) if self.keep else None
        start = 0.0 if self.first_time is None else self.first_time - origin
        return samples, int(self.sample_rate), start, self.layout

    def _emit(self, chunk: np.ndarray) -> None:
        self.chunks.append(chunk)
        self.num_samples += chunk.shape[1]

    def _append(self, chunk: np.ndarray) -> None:
        finite = np.isfinite(chunk)
        if not finite.all():
            # Float PCM can carry NaN/inf; the front end would spread them
            # over every window they touch.
            if self.first_non_finite is None:
                column = int(np.argmin(finite.all(axis=0)))
                self.first_non_finite = (self.first_time or 0.0) + (
                    self.num_samples + column) / self.sample_rate
            self.num_non_finite += int(chunk.size - finite.sum())
        elif chunk.size:
            self.peak = max(self.peak, float(np.abs(chunk).max()))
        self._emit(chunk)

    def _fill_gap(self, time: Optional[float], frame_samples: int,
                  channels: int) -> None:
        rate = self.sample_rate
        if self.first_time is None and self.pending[0][0] is not None:
            # The sound starts with skipped packets: it starts at the first.
            self.first_time = self.pending[0][0]
        begin = (self.first_time or 0.0) + self.num_samples / rate
        if time is not None and self.first_time is not None:
            gap = time - begin
        else:
            # No timestamps: the skipped packets' durations, or as many
            # samples per packet as the frame after them holds.
            gap = sum(frame_samples / rate if duration is None else duration
                      for _, duration, _ in self.pending)
        size = max(0, int(round(gap * rate)))
        self.num_skipped += len(self.pending)
        self.pending = []
        if size:
            self._emit(np.zeros((channels, size), np.float32))
            self.lost += size / rate
            end = begin + size / rate
            self.lost_span = (begin if self.lost_span is None else
                              self.lost_span[0], end)

    def _check_loss(self, origin: float, declared: Optional[float]) -> None:
        """Warn about skipped packets, or raise past the threshold."""
        if not self.num_skipped:
            return
        where = ''
        if self.lost_span is not None:
            begin, end = (t - origin for t in self.lost_span)
            where = f' between {begin:.3f} s and {end:.3f} s'
        message = (f'{self.name}: {self.num_skipped} audio packet(s) do not '
                   f'decode: {self.lost:.3f} s of sound{where} is lost')
        total = declared or self.num_samples / self.sample_rate
        if self.quiet:
            return
        if self.lost > MAX_AUDIO_LOSS * total:
            raise VideoReadError(
                f'{message}, more than {MAX_AUDIO_LOSS:.0%} of its '
                f'{total:.2f} s; the sound track is too damaged to tell '
                'what is heard')
        warnings.warn(
            f'{message}; skipped, and silence put in its place so that the '
            'later sound stays in sync with the picture', AVSDataWarning)
