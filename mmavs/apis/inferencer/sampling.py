# Copyright (c) mmavs contributors. All rights reserved.
"""Which frames of a video are segmented, and which sound each one hears.

``fps=r`` cuts the video into windows of ``1 / r`` s; window ``k`` is
represented by the frame on screen at its centre ``(k + 0.5) / r`` and
paired with the 0.96 s VGGish log-mel example centred there. With
``r = 1`` this is AVSBench's one frame and one example per second. Windows
whose centre lies after the end of the video are not sampled (but the first
window always is). ``fps='all'`` uses every frame; its example is centred
on the middle of the frame's display interval (``time + duration / 2``),
which for a 1 fps frame folder is the same pairing as ``fps=1``. A frame
may represent two windows when ``r`` is above the frame rate or the video
stalls (variable frame rate).

Outside the sound track (before it starts, after it ends, or half a window
at either end of the video) the signal counts as silence (zeros), like a
microphone that hears nothing.
"""
from dataclasses import dataclass, replace
from typing import Iterator, List, Optional, Tuple, Union

import numpy as np

from mmavs.datasets.audio import (EXAMPLE_NUM_FRAMES, EXAMPLE_SECONDS,
                                  SAMPLE_RATE, STFT_HOP_LENGTH,
                                  STFT_WINDOW_LENGTH, silent_log_mel_example,
                                  to_mono)
from mmavs.datasets.audio_stream import LogMelStream, StreamingResampler
from mmavs.datasets.errors import VideoReadError
from mmavs.datasets.video_io import VideoFrame
from ..cli_args import parse_fps

#: Samples of audio (16 kHz) one VGGish example looks at: 96 STFT frames.
WINDOW_SAMPLES = STFT_WINDOW_LENGTH + (EXAMPLE_NUM_FRAMES - 1) * \
    STFT_HOP_LENGTH
#: The shortest usable video / sound track: one example, 0.96 s.
MIN_DURATION = EXAMPLE_SECONDS

Rate = Union[float, str]


def window_centre(window: int, fps: float) -> float:
    """The centre (s) of window ``window`` at ``fps`` windows per second.

    Args:
        window (int): Window index k >= 0.
        fps (float): Windows per second.

    Returns:
        float: ``(k + 0.5) / fps``.
    """
    return (window + 0.5) / float(fps)


def window_of(time: float, fps: float) -> int:
    """The window that a time falls in (the inverse of
    :func:`window_centre`).

    Args:
        time (float): Seconds on the video's time line.
        fps (float): Windows per second.

    Returns:
        int: ``floor(time * fps)``, at least 0. A time on a window's start
        belongs to that window even when the product rounds down (29 / 25 s
        at 25 fps is 28.999999999999996).
    """
    return max(int(np.floor(time * fps + 1e-6)), 0)


def mono_16k_chunks(track, block: int = 16384) -> Iterator[np.ndarray]:
    """A track's sound as 16 kHz mono, piece by piece: the channels'
    mean, resampled as :func:`~mmavs.datasets.audio.resample_waveform`
    resamples a whole waveform (see
    :class:`~mmavs.datasets.audio_stream.StreamingResampler`).

    Args:
        track (AudioTrack | StreamedAudioTrack): The sound.
        block (int): Input samples gathered per resampling step.

    Yields:
        np.ndarray: float64 [n] pieces.
    """
    resampler = StreamingResampler(track.sample_rate, SAMPLE_RATE)
    pending, size = [], 0
    for chunk in track.chunks():
        pending.append(to_mono(chunk.T))
        size += chunk.shape[1]
        if size >= block:
            yield resampler.push(np.concatenate(pending))
            pending, size = [], 0
    if pending:
        yield resampler.push(np.concatenate(pending))
    yield resampler.finish()


class AudioWindows:
    """VGGish log-mel examples of 0.96 s windows centred at given times.

    The sound is read once, front to back, as the windows move forward
    (their centres must not decrease): 16 kHz mono (channels averaged, as
    for the data sets), padded with silence, and log-mel frames of 10 ms
    computed with :func:`mmavs.datasets.audio.log_mel_spectrogram` (the
    front end the data sets use). An example is 96 consecutive frames;
    centres are rounded to the 10 ms grid (at most 5 ms off). Parts of a
    window outside the track are silence: ``log(0 + 0.01)`` in every bin.
    Memory holds about one window of sound, whatever the track's length.

    Args:
        track (AudioTrack | StreamedAudioTrack): The sound, any rate and
            channel count.

    Examples:
        >>> import numpy as np
        >>> t = np.arange(32000, dtype=np.float32) / 16000
        >>> track = AudioTrack(np.sin(2 * np.pi * 440 * t)[None], 16000)
        >>> AudioWindows(track).example(1.0).shape
        (1, 96, 64)
    """

    def __init__(self, track) -> None:
        self.start = track.start
        self.end = track.end
        # Left padding: half a window plus slack, rounded to whole hops so
        # that STFT frame j starts at track sample 160 * j - pad.
        self._pad = -(-(WINDOW_SAMPLES // 2 + STFT_HOP_LENGTH) //
                      STFT_HOP_LENGTH) * STFT_HOP_LENGTH
        self._frames = LogMelStream(mono_16k_chunks(track), self._pad)
        self._silence = silent_log_mel_example()[0]

    def example(self, centre: float) -> np.ndarray:
        """The log-mel example of the 0.96 s window centred at ``centre``.

        Args:
            centre (float): Seconds on the video's time line, not before
                the previous call's.

        Returns:
            np.ndarray: float32 [1, 96, 64].
        """
        first_sample = (centre - self.start) * SAMPLE_RATE - WINDOW_SAMPLES / 2
        first = int(round((first_sample + self._pad) / STFT_HOP_LENGTH))
        example = self._silence.copy()
        # Frames before the padded track are silence; after it, the stream
        # computes frames of zeros, which are silence too.
        begin = max(first, 0)
        stop = first + EXAMPLE_NUM_FRAMES
        if begin < stop:
            example[begin - first:] = self._frames.frames(begin, stop)
            self._frames.release(begin)
        return example[None]


@dataclass
class FrameSample:
    """A frame chosen for inference and the time its audio is centred on.

    Attributes:
        index (int): Position among the samples of the input.
        frame_index (int): Position of the frame in the input.
        time (float): The frame's presentation time (s).
        centre (float): Centre (s) of the frame's 0.96 s audio window.
        image (np.ndarray, optional): uint8 [H, W, 3] BGR; None in the
            sampler's record, which keeps no pictures.
        shape (tuple[int, int]): (H, W) of the frame.
    """

    index: int
    frame_index: int
    time: float
    centre: float
    image: Optional[np.ndarray]
    shape: Tuple[int, int] = (0, 0)


class FrameSampler:
    """Choose frames for ``fps`` and pair them with audio times.

    Iterating yields :class:`FrameSample` s as the frames are decoded.
    Afterwards ``duration`` holds the video's length (end of the last
    frame), ``num_frames`` the number of decoded frames, ``num_samples``
    the number of samples and ``frame_size`` the frames' (H, W); with
    ``record=True``, ``samples`` holds every sample, without its picture
    (a list as long as the video: for tests and short inputs). A frame
    whose size differs from the first one's raises
    :class:`~mmavs.datasets.errors.VideoReadError`.

    Args:
        frames (Iterator[VideoFrame]): The input's frames in display order.
        fps (float | str): Windows per second, or ``'all'``.
        nominal_rate (float, optional): The input's frame rate, for the
            duration of a last frame that carries none.
        name (str): Names the input in errors. Defaults to ``'input'``.
        record (bool): Keep every sample in ``samples``. Defaults to
            False.
    """

    def __init__(self,
                 frames: Iterator[VideoFrame],
                 fps: Rate,
                 nominal_rate: Optional[float],
                 name: str = 'input',
                 record: bool = False) -> None:
        self.frames = frames
        self.name = name
        self.fps = parse_fps(fps)
        self.nominal = 1.0 / nominal_rate if nominal_rate else None
        self.duration: Optional[float] = None
        self.num_frames = 0
        self.num_samples = 0
        self.frame_size: Tuple[int, int] = (0, 0)
        self.samples: Optional[List[FrameSample]] = [] if record else None

    def facts(self) -> dict:
        """What the sampling found, once it ran: ``frame_size`` (H, W;
        (0, 0) without frames), ``duration``, ``num_video_frames`` and
        ``fps``."""
        return dict(
            frame_size=self.frame_size,
            duration=self.duration,
            num_video_frames=self.num_frames,
            fps=self.fps)

    def _frame_duration(self, frame: VideoFrame,
                        next_frame: Optional[VideoFrame]) -> float:
        if next_frame is not None:
            return next_frame.time - frame.time
        return frame.duration or self.nominal or 0.04

    def __iter__(self) -> Iterator[FrameSample]:
        for sample in self._samples():
            if not self.num_samples:
                self.frame_size = sample.shape
            elif sample.shape != self.frame_size:
                raise VideoReadError(
                    f'{self.name}: the frame size changes from '
                    f'{self.frame_size} to {sample.shape} (H, W) at '
                    f'frame {sample.frame_index}; a video must keep one size')
            self.num_samples += 1
            if self.samples is not None:
                self.samples.append(replace(sample, image=None))
            yield sample

    def _samples(self) -> Iterator[FrameSample]:
        count = 0
        previous: Optional[VideoFrame] = None
        window = 0
        for frame in self.frames:
            self.num_frames += 1
            if previous is not None:
                if self.fps == 'all':
                    yield self._every_frame(count, previous, frame)
                    count += 1
                else:
                    # ``previous`` is on screen until ``frame.time``.
                    while window_centre(window, self.fps) < frame.time:
                        yield self._window(count, window, previous)
                        count += 1
                        window += 1
            elif self.fps != 'all':
                # A video whose first frame comes late: the windows before
                # it show that first frame.
                while window_centre(window, self.fps) < frame.time:
                    yield self._window(count, window, frame)
                    count += 1
                    window += 1
            previous = frame
        if previous is None:
            return
        self.duration = previous.time + self._frame_duration(previous, None)
        if self.fps == 'all':
            yield self._every_frame(count, previous, None)
        else:
            # At least one window, even when a low fps puts the first
            # centre after the end.
            while window_centre(window,
                                self.fps) < self.duration or count == 0:
                yield self._window(count, window, previous)
                count += 1
                window += 1

    def _window(self, count: int, window: int,
                frame: VideoFrame) -> FrameSample:
        return FrameSample(count, frame.index, frame.time,
                           window_centre(window, self.fps), frame.image,
                           frame.image.shape[:2])

    def _every_frame(self, count: int, frame: VideoFrame,
                     next_frame: Optional[VideoFrame]) -> FrameSample:
        centre = frame.time + self._frame_duration(frame, next_frame) / 2
        return FrameSample(count, frame.index, frame.time, centre, frame.image,
                           frame.image.shape[:2])
