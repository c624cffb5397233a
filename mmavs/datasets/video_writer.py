# Copyright (c) mmavs contributors. All rights reserved.
"""Write videos: frames at their own times, with a sound track.

The inferencer's overlay videos go through :class:`VideoWriter` (H.264 +
AAC in fragmented mp4, via PyAV, frame by frame with the sound alongside);
:func:`write_video` writes an iterable of frames with it. Reading is in
:mod:`mmavs.datasets.video_io`.
"""
import os
import os.path as osp
import warnings
from fractions import Fraction
from typing import Iterable, Optional, Tuple, Union

import numpy as np

from .video_io import import_av

PathLike = Union[str, 'os.PathLike[str]']

#: Channel layouts FFmpeg's AAC encoder writes as they are.
AAC_LAYOUTS = ('mono', 'stereo', '3.0', '4.0', '5.0', '5.1', '6.1', '7.1',
               '5.0(side)', '5.1(side)', '7.1(wide)')


def pad_to_even(image: np.ndarray) -> np.ndarray:
    """Repeat the last row/column of an image whose size is odd.

    H.264 with 4:2:0 chroma (what every player decodes) needs even sizes.

    Args:
        image (np.ndarray): [H, W, 3].

    Returns:
        np.ndarray: [H + H % 2, W + W % 2, 3].
    """
    height, width = image.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return image
    return np.pad(
        image, ((0, height % 2), (0, width % 2), (0, 0)), mode='edge')


#: x264 presets, fastest first; see :class:`VideoWriter` for the trade-off.
X264_PRESETS = ('ultrafast', 'superfast', 'veryfast', 'faster', 'fast',
                'medium', 'slow', 'slower', 'veryslow')


class VideoWriter:
    """Encode frames and their sound into an H.264 + AAC file as they come.

    Frames keep their own times, so a variable frame rate survives; odd
    frame sizes are padded by one row/column (:func:`pad_to_even`). The
    sound is read from the track piece by piece (a
    :class:`~mmavs.datasets.video_io.StreamedAudioTrack` decodes it again)
    and encoded alongside the frames, a little ahead of them: memory holds
    a few frames and a second of sound, however long the video. It keeps
    its own rate and layout (5.1 stays 5.1; a layout the AAC encoder does
    not take is mixed down to stereo, with a warning) and its place on the
    time line (``audio.start``).

    mp4 files are written fragmented (a fragment per keyframe, a keyframe
    every 2 s): what was written before an interruption (Ctrl-C, a full
    disk, an error) stays playable, up to the last complete fragment, even
    when the file is never closed.

    Speed and size: x264's ``preset`` trades encoding time for file size at
    the same quality (``crf``). ``'veryfast'`` (the default) encodes a
    720p frame several times faster than FFmpeg's default ``'medium'`` in
    files somewhat larger; ``docs/benchmark.md`` has the measured figures.

    Args:
        path (str | PathLike): Output ``.mp4`` (or ``.mkv``/``.mov``).
        frame_rate (float): Nominal frame rate, a hint for the encoder's
            rate control and the container.
        audio (AudioTrack | StreamedAudioTrack, optional): Sound to mux in.
        crf (int): x264 constant rate factor (0 = lossless, 23 = FFmpeg's
            default). Defaults to 23.
        preset (str): x264 preset, one of :data:`X264_PRESETS`. Defaults
            to ``'veryfast'``.
        threads (int): Encoder threads; 0 lets x264 choose. Defaults to 0.
        channel_order (str): ``'rgb'`` or ``'bgr'`` images. Defaults to
            ``'rgb'``.

    Examples:
        >>> with VideoWriter('out.mp4', 25.0, audio=track) as writer:
        ...     for image, time in frames:
        ...         writer.write(image, time)
    """

    #: Seconds of sound encoded ahead of the last frame.
    AUDIO_LEAD = 0.5

    def __init__(self,
                 path: PathLike,
                 frame_rate: float,
                 audio=None,
                 crf: int = 23,
                 preset: str = 'veryfast',
                 threads: int = 0,
                 channel_order: str = 'rgb') -> None:
        av = import_av()
        if channel_order not in ('rgb', 'bgr'):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got "
                             f'{channel_order!r}')
        if preset not in X264_PRESETS:
            raise ValueError(f'preset must be one of {X264_PRESETS}, got '
                             f'{preset!r}')
        self.path = os.fspath(path)
        self._av = av
        self._format = 'rgb24' if channel_order == 'rgb' else 'bgr24'
        # A 90 kHz clock (MPEG's) represents every common frame rate closely.
        self._time_base = Fraction(1, 90000)
        rate = Fraction(frame_rate).limit_denominator(1001) \
            if frame_rate else Fraction(25)
        self._frame_rate = float(rate)
        options = {}
        if osp.splitext(self.path)[1].lower() in ('.mp4', '.m4v', '.mov'):
            # delay_moov: the header waits for the first fragment, so that
            # it holds the edit lists that keep the sound in sync (AAC's
            # priming samples, x264's B-frame delay).
            options['movflags'] = (
                'frag_keyframe+empty_moov+delay_moov+default_base_moof')
        os.makedirs(osp.dirname(osp.abspath(self.path)), exist_ok=True)
        # FFmpeg writes through an unbuffered file of ours: a failed write
        # (a full disk) raises OSError at once, where FFmpeg's own file
        # writer would lose it without a word.
        self._file = open(self.path, 'wb', buffering=0)
        try:
            self._container = av.open(self._file, 'w', options=options)
        except Exception:
            self._file.close()
            raise
        try:
            video = self._container.add_stream('libx264', rate=rate)
            video.pix_fmt = 'yuv420p'
            video.codec_context.time_base = self._time_base
            video.gop_size = max(1, int(round(2 * float(rate))))
            video.options = {'crf': str(crf), 'preset': preset,
                             'threads': str(threads)}
            self._video = video
            self._audio = None
            if audio is not None:
                self._open_audio(audio)
        except Exception:
            self._container.close()
            self._file.close()
            raise
        self._size: Optional[Tuple[int, int]] = None
        self._last_pts = -1
        self._last_time = 0.0
        self.num_frames = 0
        self._closed = False

    # ------------------------------------------------------------------
    # Sound
    # ------------------------------------------------------------------
    def _open_audio(self, audio) -> None:
        av = self._av
        channels = audio.channels
        # wav files often carry no layout ("1 channels"), which the AAC
        # encoder refuses: name the usual ones.
        self._layout = {1: 'mono', 2: 'stereo'}.get(channels, audio.layout)
        stream = self._container.add_stream('aac', rate=audio.sample_rate)
        stream.layout = _aac_layout(self._layout, channels, self.path)
        self._audio = stream
        self._rate = audio.sample_rate
        self._resampler = av.AudioResampler(
            format=stream.codec_context.format.name,
            layout=stream.codec_context.layout.name,
            rate=audio.sample_rate,
            frame_size=stream.codec_context.frame_size or 1024)
        self._chunks = iter(audio.chunks())
        self._pending = np.zeros((channels, 0), np.float32)
        # The sound starts at audio.start: silence before it, or its head
        # cut, so that it stays in sync on players that ignore offsets.
        offset = int(round(audio.start * audio.sample_rate))
        self._skip = max(0, -offset)
        if offset > 0:
            self._pending = np.zeros((channels, offset), np.float32)
        self._fed = 0  # samples encoded so far (from time 0)

    def _next_samples(self) -> bool:
        """Read one more piece of sound into the pending samples."""
        for chunk in self._chunks:
            chunk = np.asarray(chunk, dtype=np.float32)
            if self._skip:
                cut = min(self._skip, chunk.shape[1])
                chunk, self._skip = chunk[:, cut:], self._skip - cut
            if chunk.shape[1]:
                self._pending = np.concatenate([self._pending, chunk], axis=1)
                return True
        return False

    def _feed_audio(self, until: Optional[float]) -> None:
        """Encode the sound up to ``until`` seconds (None: all of it)."""
        if self._audio is None:
            return
        limit = None if until is None else int(round(until * self._rate))
        while limit is None or self._fed < limit:
            if not self._pending.shape[1] and not self._next_samples():
                return
            count = self._pending.shape[1] if limit is None else min(
                self._pending.shape[1], limit - self._fed)
            self._encode_samples(self._pending[:, :count])
            self._pending = self._pending[:, count:]

    def _encode_samples(self, samples: np.ndarray) -> None:
        av = self._av
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples), format='fltp', layout=self._layout)
        frame.sample_rate = self._rate
        frame.pts = self._fed
        frame.time_base = Fraction(1, self._rate)
        self._fed += samples.shape[1]
        for out in self._resampler.resample(frame):
            self._mux(self._audio.encode(out))

    def _mux(self, packets) -> None:
        for packet in packets:
            self._container.mux(packet)

    # ------------------------------------------------------------------
    # Frames
    # ------------------------------------------------------------------
    def write(self, image: np.ndarray, time: float) -> None:
        """Encode one frame, and the sound up to a little after it.

        Args:
            image (np.ndarray): uint8 [H, W, 3], the size of the first.
            time (float): Presentation time (s), after the previous one's.

        Raises:
            ValueError: A frame of another size.
            OSError: The file cannot be written (e.g. the disk is full).
        """
        image = pad_to_even(np.ascontiguousarray(image, dtype=np.uint8))
        if self._size is None:
            self._size = image.shape[:2]
            self._video.height, self._video.width = self._size
        elif image.shape[:2] != self._size:
            raise ValueError(f'{self.path}: frame {self.num_frames} is '
                             f'{image.shape[:2]}, the first frame was '
                             f'{self._size}')
        frame = self._av.VideoFrame.from_ndarray(image, format=self._format)
        pts = max(int(round(time / self._time_base)), self._last_pts + 1)
        frame.pts, frame.time_base = pts, self._time_base
        self._last_pts, self._last_time = pts, time
        self._mux(self._video.encode(frame))
        self.num_frames += 1
        self._feed_audio(time + self.AUDIO_LEAD)

    def close(self, complete: bool = True) -> str:
        """Flush the encoders and finish the file.

        Args:
            complete (bool): The video is complete: encode the rest of the
                sound. False (an interrupted run) ends the sound with the
                last frames (at most :attr:`AUDIO_LEAD` after the last).
                Defaults to True.

        Returns:
            str: The path.

        Raises:
            ValueError: No frame was written (the file is removed).
            OSError: The file cannot be written.
        """
        if self._closed:
            return self.path
        self._closed = True
        try:
            if self.num_frames:
                self._mux(self._video.encode())
                if self._audio is not None:
                    self._feed_audio(None if complete else self._last_time +
                                     1.0 / self._frame_rate)
                    self._mux(
                        self._audio.encode(out)
                        for out in self._resampler.resample(None))
                    self._mux(self._audio.encode())
        finally:
            try:
                self._container.close()
            finally:
                self._file.close()
        if not self.num_frames:
            if osp.exists(self.path):
                os.remove(self.path)
            raise ValueError(f'{self.path}: no frames to write')
        return self.path

    def __enter__(self) -> 'VideoWriter':
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if error is None:
            self.close()
        else:
            try:
                self.close(complete=False)
            except Exception:  # the first error is the one to report
                pass


def write_video(path: PathLike,
                frames: Iterable[Tuple[np.ndarray, float]],
                frame_rate: float,
                audio=None,
                crf: int = 23,
                channel_order: str = 'rgb',
                preset: str = 'veryfast') -> str:
    """Encode frames (and a sound track) as an H.264 + AAC mp4.

    See :class:`VideoWriter`, which this runs over ``frames``.

    Args:
        path (str | PathLike): Output ``.mp4`` (or ``.mkv``/``.mov``).
        frames (Iterable[tuple[np.ndarray, float]]): ``(image, time)``
            pairs in time order: uint8 [H, W, 3] images (all the same size)
            and their presentation times in seconds.
        frame_rate (float): Nominal frame rate.
        audio (AudioTrack | StreamedAudioTrack, optional): Sound to mux in.
        crf (int): x264 constant rate factor. Defaults to 23.
        channel_order (str): ``'rgb'`` or ``'bgr'`` images. Defaults to
            ``'rgb'``.
        preset (str): x264 preset. Defaults to ``'veryfast'``.

    Returns:
        str: ``path``.

    Raises:
        ValueError: No frames, or frames of different sizes.
    """
    with VideoWriter(path, frame_rate, audio, crf=crf, preset=preset,
                     channel_order=channel_order) as writer:
        for image, time in frames:
            writer.write(image, time)
    return writer.path


def _aac_layout(layout: str, channels: int, path: PathLike) -> str:
    """The layout the overlay's AAC track gets: the input's own (5.1 stays
    5.1) when FFmpeg's AAC encoder takes it, else stereo, with a warning."""
    av = import_av()
    if layout in AAC_LAYOUTS:
        try:
            av.AudioLayout(layout)
            return layout
        except Exception:  # not a layout this FFmpeg knows
            pass
    warnings.warn(f'{os.fspath(path)}: the {channels}-channel sound '
                  f'({layout or "no layout"}) is mixed down to stereo for '
                  'the AAC track')
    return 'stereo'
