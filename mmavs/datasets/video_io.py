# Copyright (c) mmavs contributors. All rights reserved.
"""Read videos: frames with their timestamps, and the sound track.

Everything goes through PyAV (FFmpeg), so any container and codec FFmpeg
decodes works: mp4, mkv, avi, webm, mov, ... The time line of a file starts
at its video stream's start time: frame times and the audio offset are in
seconds from there, so a player and the inferencer agree on "second 3".

Known limitations, documented rather than guessed at:

- Rotation metadata (phones' display matrix) is ignored: frames, masks and
  the overlay video keep the stored orientation.
- Only the first video and the first audio stream are used.

It belongs to the data layer because data sets read the sound of videos
too (:func:`mmavs.datasets.audio.read_video_soundtrack`); writing is in
:mod:`mmavs.datasets.video_writer`. PyAV is imported only when a file is
opened: it is optional.
"""
import os
import os.path as osp
import warnings
from dataclasses import dataclass
from typing import Iterator, List, NamedTuple, Optional, Union

import numpy as np

from .errors import VideoReadError
from .sound_track import SoundTrackBuilder, seconds, until_error

PathLike = Union[str, 'os.PathLike[str]']

#: Decoding may stop this much (seconds) before the declared duration before
#: the file counts as truncated (declared durations are rounded, and the
#: last frame's duration is a guess).
TRUNCATION_TOLERANCE = 0.5


@dataclass
class AudioTrack:
    """Decoded sound, at its own sample rate, with all its channels.

    Attributes:
        samples (np.ndarray): float32 [C, S] (planar, in [-1, 1]).
        sample_rate (int): Samples per second.
        start (float): Time of the first sample in seconds on the video's
            time line (negative when the sound starts before the picture).
        layout (str): FFmpeg channel layout name (``'mono'``, ``'stereo'``,
            ``'5.1'``, ...), used when the track is encoded again.
    """

    samples: np.ndarray
    sample_rate: int
    start: float = 0.0
    layout: str = ''

    @property
    def duration(self) -> float:
        """Length of the track in seconds."""
        return self.samples.shape[1] / float(self.sample_rate)

    @property
    def end(self) -> float:
        """Time of the end of the track on the video's time line."""
        return self.start + self.duration

    @property
    def channels(self) -> int:
        """Number of channels."""
        return self.samples.shape[0]

    @property
    def peak(self) -> float:
        """Largest absolute sample value."""
        return float(np.abs(self.samples).max()) if self.samples.size else 0.0

    def chunks(self, size: int = 65536) -> Iterator[np.ndarray]:
        """The samples in pieces (as :class:`StreamedAudioTrack` gives them).

        Args:
            size (int): Samples per piece. Defaults to 65536.

        Yields:
            np.ndarray: float32 [C, <= size] views, in time order.
        """
        for begin in range(0, self.samples.shape[1], size):
            yield self.samples[:, begin:begin + size]


@dataclass
class VideoInfo:
    """What :func:`probe_video` learns from a file's header.

    Attributes:
        path (str): The file.
        width (int): Frame width in pixels.
        height (int): Frame height in pixels.
        frame_rate (float | None): Average frame rate (frames per second);
            None when the container does not tell.
        duration (float | None): Declared duration of the video stream in
            seconds (the container's when the stream has none); None when
            unknown.
        num_frames (int | None): Declared frame count; None when unknown.
        video_codec (str): Name of the video codec.
        has_audio (bool): The file has an audio stream.
        audio_codec (str | None): Name of the audio codec.
        sample_rate (int | None): Audio sample rate.
        channels (int | None): Audio channels.
    """

    path: str
    width: int
    height: int
    frame_rate: Optional[float]
    duration: Optional[float]
    num_frames: Optional[int]
    video_codec: str
    has_audio: bool
    audio_codec: Optional[str] = None
    sample_rate: Optional[int] = None
    channels: Optional[int] = None


class VideoFrame(NamedTuple):
    """One decoded frame.

    Attributes:
        index (int): 0-based position in presentation order.
        time (float): Presentation time in seconds from the start of the
            video stream.
        duration (float | None): How long the frame is shown (seconds), when
            the file says.
        image (np.ndarray): uint8 [H, W, 3] BGR.
    """

    index: int
    time: float
    duration: Optional[float]
    image: np.ndarray


class DecodedFrame:
    """A decoded frame whose picture is converted to BGR when first asked
    for (what :func:`iter_video_frames` yields with ``lazy=True``).

    Converting every decoded picture costs time that a caller who looks
    at one frame in 25 (segmenting at 1 fps) need not pay. Has the fields
    of :class:`VideoFrame`.
    """

    __slots__ = ('index', 'time', 'duration', '_frame', '_image')

    def __init__(self, index: int, time: float, duration: Optional[float],
                 frame) -> None:
        self.index, self.time, self.duration = index, time, duration
        self._frame, self._image = frame, None

    @property
    def image(self) -> np.ndarray:
        """uint8 [H, W, 3] BGR."""
        if self._image is None:
            self._image = self._frame.to_ndarray(format='bgr24')
            self._frame = None
        return self._image


def import_av():
    """PyAV, or an error that says how to get it (it is optional)."""
    try:
        import av
    except ImportError as error:
        raise ImportError(
            'Reading and writing videos needs PyAV: pip '
            'install "av>=12" (see requirements/optional.txt)') from error
    return av


def _check_file(path: PathLike) -> None:
    if not osp.exists(path):
        raise VideoReadError(f'{os.fspath(path)}: file is missing')
    if osp.isdir(path):
        raise VideoReadError(f'{os.fspath(path)}: is a directory, not a '
                             'video file')
    if osp.getsize(path) == 0:
        raise VideoReadError(f'{os.fspath(path)}: file is empty (0 bytes)')


def _open(path: PathLike):
    """Open a container, turning FFmpeg's errors into clear ones."""
    av = import_av()
    _check_file(path)
    try:
        return av.open(os.fspath(path))
    except Exception as error:  # FFmpeg errors come in many types
        raise VideoReadError(
            f'{os.fspath(path)}: cannot open as a video file; it is not a '
            'media file FFmpeg can read, or it is truncated or corrupt '
            f'({type(error).__name__}: {error})') from error


def _stream_start(stream) -> float:
    start = seconds(stream.start_time, stream.time_base)
    return start if start is not None else 0.0


def _decode_sound(path: PathLike, builder_args: dict,
                  allow_truncated: bool) -> Iterator[tuple]:
    """Decode a file's first audio stream into a :class:`SoundTrackBuilder`.

    Yields the builder after each packet (a streaming caller drains it
    there), then once more at the end with the file's origin (start of the
    video's time line) and declared duration: ``(builder, origin,
    declared)``; the two are None until the end.
    """
    av = import_av()
    name = os.fspath(path)
    container = _open(path)
    try:
        if not container.streams.audio:
            raise VideoReadError(
                f'{name}: has no audio stream; AVS segments the '
                'objects that make the sound, so it needs the sound track')
        stream = container.streams.audio[0]
        reference = (
            container.streams.video[0] if container.streams.video else stream)
        origin = _stream_start(reference)
        declared = _declared_duration(container, stream)
        # Planar float, same rate and layout: the samples as they are, so a
        # downmix is our plain mean (as VGGish does), not FFmpeg's surround
        # matrix.
        track = SoundTrackBuilder(name, av.AudioResampler(format='fltp'),
                                  **builder_args)
        read_errors: List[Exception] = []
        for packet in until_error(container.demux(stream), read_errors.append):
            try:
                frames = packet.decode()
            except Exception as error:  # FFmpeg errors come in many types
                track.skip(packet, error)
                continue
            for frame in frames:
                track.add(frame)
            yield track, None, None
        if read_errors or track.pending:
            track.fail_at_end(
                read_errors[0] if read_errors else track.pending[-1][2],
                allow_truncated)
        track.flush()
    finally:
        container.close()
    yield track, origin, declared


def read_audio_track(path: PathLike,
                     allow_truncated: bool = False) -> AudioTrack:
    """Decode the first audio stream of a file (video or audio) with PyAV.

    The samples keep their rate and channels (the VGGish front end averages
    the channels itself, see :func:`read_video_soundtrack`), and ``start``
    places them on the video's time line.

    Damaged sound is read as FFmpeg plays it: packets are decoded one by
    one, a packet that does not decode is skipped, and the time it covered
    (up to the timestamp of the next decoded frame) becomes silence, so the
    later sound stays at its true time, in sync with the picture. One
    warning per file gives the number of skipped packets and the time lost.

    The loss threshold: when the silence put in place of skipped packets
    exceeds 10 % (:data:`~mmavs.datasets.sound_track.MAX_AUDIO_LOSS`) of
    the file's declared duration (of the decoded duration when none is
    declared), or when no packet decodes at all, the file is refused: that
    sound no longer tells what was heard. Packets that fail at the end,
    with nothing decodable after them, are a file cut short, which
    ``allow_truncated`` governs.

    Args:
        path (str | PathLike): A video or audio file (mp4, mkv, avi, webm,
            wav, flac, mp3, m4a, ...).
        allow_truncated (bool): When decoding fails at the end (a file cut
            short: reading stops, or the last packets do not decode), keep
            the samples decoded so far (with a warning) instead of raising.
            Does not lift the loss threshold. Defaults to False.

    Returns:
        AudioTrack: float32 [C, S] samples, rate, start time and layout.

    Raises:
        VideoReadError: The file is missing, empty, cannot be opened, has no
            audio stream, holds no samples, no packet decodes, undecodable
            packets take more than 10 % of its duration, a sample is NaN or
            infinite, or (without ``allow_truncated``) decoding fails at the
            end.
    """
    for track, origin, declared in _decode_sound(path, {}, allow_truncated):
        pass
    return AudioTrack(*track.finish(origin, declared))


def scan_audio_track(path: PathLike,
                     allow_truncated: bool = False) -> 'StreamedAudioTrack':
    """Check a file's sound track as :func:`read_audio_track` does, keeping
    none of it: a track of any length, in constant memory.

    Args:
        path (str | PathLike): A video or audio file.
        allow_truncated (bool): See :func:`read_audio_track`.

    Returns:
        StreamedAudioTrack: What the track holds (rate, start, layout,
        length, peak); its :meth:`~StreamedAudioTrack.chunks` decode the
        file again.

    Raises:
        VideoReadError: As :func:`read_audio_track`.
    """
    for track, origin, declared in _decode_sound(
            path, dict(keep=False), allow_truncated):
        track.drain()
    _, rate, start, layout = track.finish(origin, declared)
    return StreamedAudioTrack(
        os.fspath(path), rate, start, layout, track.channels,
        track.num_samples, track.peak, allow_truncated)


def iter_audio_chunks(path: PathLike,
                      allow_truncated: bool = False) -> Iterator[np.ndarray]:
    """The samples of a file's sound track, a piece at a time, as
    :func:`read_audio_track` assembles them (silence where packets do not
    decode), for a file :func:`scan_audio_track` has checked: no warnings
    again.

    Args:
        path (str | PathLike): The file.
        allow_truncated (bool): See :func:`read_audio_track`.

    Yields:
        np.ndarray: float32 [C, n] pieces in time order, from the track's
        start.
    """
    for track, _, _ in _decode_sound(path, dict(keep=False, quiet=True),
                                     allow_truncated):
        yield from track.drain()


@dataclass
class StreamedAudioTrack:
    """A file's sound track, checked, and read again piece by piece.

    Has the attributes of :class:`AudioTrack` but ``samples``; what uses a
    track (the inferencer's audio windows, the overlay writer) reads
    :meth:`chunks`, so that an hour of sound never sits in memory.

    Attributes:
        path (str): The file.
        sample_rate (int): Samples per second.
        start (float): Time of the first sample on the video's time line.
        layout (str): FFmpeg channel layout name.
        channels (int): Channels.
        num_samples (int): Samples per channel.
        peak (float): Largest absolute sample value.
        allow_truncated (bool): Read a truncated file as far as it decodes.
    """

    path: str
    sample_rate: int
    start: float
    layout: str
    channels: int
    num_samples: int
    peak: float
    allow_truncated: bool = False

    @property
    def duration(self) -> float:
        """Length of the track in seconds."""
        return self.num_samples / float(self.sample_rate)

    @property
    def end(self) -> float:
        """Time of the end of the track on the video's time line."""
        return self.start + self.duration

    def chunks(self) -> Iterator[np.ndarray]:
        """Decode the track again: float32 [C, n] pieces in time order."""
        return iter_audio_chunks(self.path, self.allow_truncated)


def _declared_duration(container, stream) -> Optional[float]:
    duration = seconds(stream.duration, stream.time_base)
    if duration is None and container.duration is not None:
        # The container's duration covers every stream; good enough to spot
        # a file that stops decoding far too early.
        duration = container.duration / 1e6
    return duration


def probe_video(path: PathLike, require_audio: bool = True) -> VideoInfo:
    """Read a video file's header.

    Args:
        path (str | PathLike): The file.
        require_audio (bool): Raise when there is no audio stream.
            Defaults to True.

    Returns:
        VideoInfo: Size, frame rate, duration and streams.

    Raises:
        VideoReadError: The file is missing, empty, not a media file,
            truncated so that its header is gone, has no video stream, or
            (``require_audio``) has no audio stream.
    """
    with _open(path) as container:
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ['none']
            raise VideoReadError(
                f'{os.fspath(path)}: has no video stream (streams: '
                f'{", ".join(kinds)}); AVS needs pictures and sound')
        video = container.streams.video[0]
        context = video.codec_context
        rate = video.average_rate or video.guessed_rate
        audio = container.streams.audio[0] if container.streams.audio else None
        if audio is None and require_audio:
            raise VideoReadError(
                f'{os.fspath(path)}: has no audio stream; AVS segments the '
                'objects that make the sound, so it needs the sound track '
                '(a silent video cannot be segmented)')
        return VideoInfo(
            path=os.fspath(path),
            width=int(context.width),
            height=int(context.height),
            frame_rate=float(rate) if rate else None,
            duration=_declared_duration(container, video),
            num_frames=int(video.frames) if video.frames else None,
            video_codec=context.name,
            has_audio=audio is not None,
            audio_codec=audio.codec_context.name if audio else None,
            sample_rate=int(audio.rate) if audio else None,
            channels=int(audio.channels) if audio else None)


class _TimestampGuess:
    """A frame's timestamp as FFmpeg's ``guess_correct_pts`` picks it (the
    best-effort timestamp players show): its pts, unless pts went backwards
    more often than dts. avi files with packed B-frames (DivX, e.g.
    opencv's ``Megamind.avi``) give frames their neighbours' pts; their
    dts are right."""

    def __init__(self) -> None:
        self.faulty_pts = self.faulty_dts = 0
        self.last_pts = self.last_dts = None

    def __call__(self, frame) -> Optional[int]:
        pts, dts = frame.pts, getattr(frame, 'dts', None)
        if dts is not None:
            self.faulty_dts += int(self.last_dts is not None
                                   and dts <= self.last_dts)
            self.last_dts = dts
        elif pts is not None:
            self.last_dts = pts
        if pts is not None:
            self.faulty_pts += int(self.last_pts is not None
                                   and pts <= self.last_pts)
            self.last_pts = pts
        elif dts is not None:
            self.last_pts = dts
        if pts is not None and (dts is None
                                or self.faulty_pts <= self.faulty_dts):
            return pts
        return dts


def iter_video_frames(path: PathLike,
                      allow_truncated: bool = False,
                      lazy: bool = False) -> Iterator[VideoFrame]:
    """Decode the frames of the first video stream, in presentation order.

    Times come from the frames' presentation timestamps, so variable frame
    rate videos keep their real timing; where those go backwards more often
    than the decoding timestamps (avi files with packed B-frames), the
    latter are used, as FFmpeg does. A timestamp that is missing (some avi
    files) is guessed from the previous frame and the average rate; one
    that goes backwards is moved just after the previous frame (with a
    warning), so times never decrease.

    Args:
        path (str | PathLike): The file.
        allow_truncated (bool): When decoding fails part way or stops well
            before the declared duration (a truncated or corrupt file),
            end with a warning instead of raising. Defaults to False.
        lazy (bool): Yield :class:`DecodedFrame` s, whose picture is
            converted to BGR only when asked for. Defaults to False.

    Yields:
        VideoFrame: index, time (s), duration (s or None) and the BGR image.

    Raises:
        VideoReadError: The file cannot be opened, has no video stream,
            decodes no frame at all, or (without ``allow_truncated``) fails
            part way or ends more than ``max(TRUNCATION_TOLERANCE, 10 %)``
            before its declared duration; the message says where. The
            truncation check runs after the last frame was yielded.
    """
    container = _open(path)
    try:
        if not container.streams.video:
            raise VideoReadError(f'{os.fspath(path)}: has no video stream')
        stream = container.streams.video[0]
        # Threads speed up decoding of large frames a lot and change
        # nothing in the output.
        stream.thread_type = 'AUTO'
        start = _stream_start(stream)
        rate = stream.average_rate or stream.guessed_rate
        nominal = 1.0 / float(rate) if rate else None
        index, last_time, went_back = 0, None, 0

        def stop_or_fail(error: Exception) -> None:
            where = ('before the first frame' if last_time is None else
                     f'after frame {index - 1} (t = {last_time:.3f} s)')
            message = (f'{os.fspath(path)}: video decoding failed '
                       f'{where}; the file is truncated or corrupt '
                       f'({type(error).__name__}: {error})')
            if not allow_truncated or index == 0:
                raise VideoReadError(message + (
                    '' if index == 0 else '; pass allow_truncated=True (CLI: '
                    '--allow-truncated) to use the '
                    f'{index} frames decoded before it')) from error
            warnings.warn(message + f'; using the first {index} frames')

        guess = _TimestampGuess()
        for frame in until_error(container.decode(stream), stop_or_fail):
            time = seconds(guess(frame), frame.time_base)
            if time is None:
                time = (0.0 if last_time is None else last_time +
                        (nominal or 0.04))
            else:
                time -= start
            if last_time is not None and time <= last_time:
                went_back += 1
                time = last_time + 1e-3
            # VideoFrame.duration is missing in older PyAV.
            duration = seconds(
                getattr(frame, 'duration', None), frame.time_base)
            yield DecodedFrame(index, time, duration or None, frame) \
                if lazy else VideoFrame(index, time, duration or None,
                                        frame.to_ndarray(format='bgr24'))
            last_time = time
            index += 1
        if index == 0:
            raise VideoReadError(f'{os.fspath(path)}: the video stream has '
                                 'no decodable frame')
        if went_back:
            warnings.warn(f'{os.fspath(path)}: {went_back} frame timestamps '
                          'did not increase; they were moved 1 ms after the '
                          'previous frame')
        declared = _declared_duration(container, stream)
        end = last_time + (nominal or 0.0)
        if declared is not None and end < declared - max(
                TRUNCATION_TOLERANCE, 0.1 * declared):
            # Truncated mkv and faststart mp4 files often just stop, with
            # no decoding error; the declared duration gives them away.
            message = (f'{os.fspath(path)}: the video stops at {end:.2f} s '
                       f'but the file declares {declared:.2f} s; it is '
                       'probably truncated')
            if not allow_truncated:
                raise VideoReadError(
                    message + '; pass allow_truncated=True (CLI: '
                    '--allow-truncated) to use the decoded part (also when '
                    'the file is complete and only its header is wrong)')
            warnings.warn(message + f'; using the first {index} frames')
    finally:
        container.close()
