# Copyright (c) mmavs contributors. All rights reserved.
"""The inputs of :class:`~mmavs.apis.AVSInferencer`, made uniform.

Every input (a video file, a folder of frames with a sound file, or
in-memory arrays) becomes an :class:`InputSource`: a way to iterate its
frames with their times, its sound (or precomputed log-mel examples) and
what its container declares. Problems that can be seen before decoding
(missing files, no audio stream, too short, bad shapes) raise here.

Second 0 is the start of the video stream; frame times are presentation
timestamps, so variable frame rate videos keep their timing. A video or
sound track shorter than one 0.96 s window, a file without an audio or a
video stream, an unreadable or truncated file raise
:class:`~mmavs.datasets.errors.VideoReadError` (truncated files can be
accepted with ``allow_truncated=True``). Silence is valid input: it is
processed, and a warning says that a model which listens will find little
to segment.
"""
import math
import os
import os.path as osp
import re
import warnings
from dataclasses import dataclass
from typing import Callable, Iterator, List, Optional, Union

import numpy as np

from mmavs.datasets.audio import (EXAMPLE_SHAPE, SILENCE_PEAK,
                                  check_finite_samples)
from mmavs.datasets.errors import VideoReadError
from mmavs.datasets.readers import read_frame
from mmavs.datasets.video_io import (AudioTrack, StreamedAudioTrack,
                                     VideoFrame, iter_video_frames,
                                     probe_video, scan_audio_track)
from .sampling import MIN_DURATION, AudioWindows, FrameSample

#: Frame files of a frame folder.
FRAME_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
#: Video files a folder of videos is made of.
VIDEO_EXTENSIONS = ('.mp4', '.mkv', '.avi', '.webm', '.mov', '.m4v', '.mpg',
                    '.mpeg', '.ts', '.flv', '.wmv', '.ogv', '.3gp')
#: Sound files looked for in a frame folder.
AUDIO_EXTENSIONS = ('.wav', '.flac', '.ogg', '.mp3', '.m4a', '.aac', '.opus',
                    '.aif', '.aiff')

InputType = Union[str, 'os.PathLike[str]', dict]


@dataclass
class InputSource:
    """One input, normalised: how to get its frames and its sound.

    Attributes:
        name (str): Name of the input (its file or folder name, or the
            ``name`` given); names its output folder.
        source (str): The path, or ``'<array>'``.
        kind (str): ``'video'``, ``'frames'`` or ``'arrays'``.
        frames (Callable[[], Iterator[VideoFrame]]): Starts a fresh pass
            over the frames (the overlay video decodes them again).
        frame_rate (float, optional): Frames per second.
        audio (AudioTrack | StreamedAudioTrack, optional): The sound,
            unless ``examples``: in memory for arrays, read again from the
            file (checked once, when the source is made) otherwise.
        examples (np.ndarray, optional): float32 [N, 1, 96, 64] log-mel
            examples, one per frame.
        declared_duration (float, optional): Seconds, as declared.
        declared_frames (int, optional): Frames, as declared.
    """

    name: str
    source: str
    kind: str
    frames: Callable[[], Iterator[VideoFrame]]
    frame_rate: Optional[float]
    audio: Optional[Union[AudioTrack, StreamedAudioTrack]] = None
    examples: Optional[np.ndarray] = None
    declared_duration: Optional[float] = None
    declared_frames: Optional[int] = None

    def audio_reader(self) -> Callable[[FrameSample], np.ndarray]:
        """A fresh pass over the sound: what each sampled frame hears.

        Returns:
            Callable[[FrameSample], np.ndarray]: Gives the float32 [1, 96,
            64] log-mel example of a sample: the frame's own example when
            the input brings examples, else the 0.96 s window of the sound
            centred on ``sample.centre`` (:class:`AudioWindows`, which
            reads the sound once, front to back: samples in order).
        """
        if self.examples is not None:
            examples = self.examples
            return lambda sample: examples[sample.frame_index]
        windows = AudioWindows(self.audio)
        return lambda sample: windows.example(sample.centre)

    @property
    def label(self) -> str:
        """How messages name the input: its path, or its name."""
        return self.name if self.kind == 'arrays' else self.source

    def check_declared_lengths(self) -> None:
        """Fail early when the picture or the sound is declared too short.

        Raises:
            VideoReadError: Shorter than one 0.96 s audio window.
        """
        check_min_duration(self.label, 'video', self.declared_duration)
        check_min_duration(self.label, 'sound track',
                           self.audio.duration if self.audio else None)

    def expected_samples(self, fps) -> Optional[int]:
        """About how many frames ``fps`` samples (for progress bars).

        Args:
            fps (float | str): Samples per second, or ``'all'``.

        Returns:
            int, optional: The estimate, None when nothing is declared.
        """
        if not self.declared_duration:
            return None
        if fps != 'all':
            # Windows whose centre (k + 0.5) / fps lies inside, at least 1.
            return max(1, math.ceil(self.declared_duration * fps - 0.5))
        if self.declared_frames or self.frame_rate:
            return self.declared_frames or int(
                self.declared_duration * self.frame_rate + 0.5)
        return None

    def check_sound(self, duration: Optional[float]) -> bool:
        """Warn about sound that ends early or is silent.

        Args:
            duration (float, optional): The decoded picture's length (s).

        Returns:
            bool: Whether the sound track is silent (peak below -80 dBFS).
        """
        if self.audio is None:
            return False
        if duration is not None and self.audio.end < duration - 0.5:
            warnings.warn(f'{self.label}: the sound ends at '
                          f'{self.audio.end:.2f} s, the video at '
                          f'{duration:.2f} s; later frames hear silence')
        silent = bool(self.audio.peak < SILENCE_PEAK)
        if silent:
            warnings.warn(f'{self.label}: the sound track is silent; a '
                          'model that listens finds little or nothing to '
                          'segment')
        return silent


def check_min_duration(label: str, what: str,
                       seconds: Optional[float]) -> None:
    """Raise when ``seconds`` is shorter than one 0.96 s audio window.

    Args:
        label (str): Names the input in the message.
        what (str): ``'video'`` or ``'sound track'``.
        seconds (float, optional): The length; None is not checked.

    Raises:
        VideoReadError: ``seconds < 0.96``.
    """
    if seconds is not None and seconds < MIN_DURATION:
        raise VideoReadError(
            f'{label}: the {what} is {seconds:.2f} s long, shorter than one '
            f'{MIN_DURATION:.2f} s audio window')


def natural_key(name: str) -> list:
    """Sort key that orders ``frame2`` before ``frame10``.

    Args:
        name (str): A file name.

    Returns:
        list: Alternating text (lower case) and integers.
    """
    return [
        int(part) if part.isdigit() else part.lower()
        for part in re.split(r'(\d+)', name)
    ]


def folder_videos(path: Union[str, 'os.PathLike[str]']) -> List[str]:
    """The video files of a folder that holds no frame images.

    Args:
        path (str | PathLike): Any input.

    Returns:
        list[str]: In natural name order; empty for anything but a folder
        of videos (a frame folder is one input of its own).
    """
    if not isinstance(path, (str, os.PathLike)) or not osp.isdir(path):
        return []
    folder = os.fspath(path)
    if list_frame_files(folder):
        return []
    return [
        osp.join(folder, name)
        for name in sorted(os.listdir(folder), key=natural_key)
        if osp.splitext(name)[1].lower() in VIDEO_EXTENSIONS
    ]


def expand_inputs(inputs: List[InputType]) -> List[InputType]:
    """Replace each folder of videos by its videos; keep the rest.

    Args:
        inputs (list): Inputs of the inferencer.

    Returns:
        list: The inputs, folders of videos expanded.
    """
    expanded: List[InputType] = []
    for item in inputs:
        expanded.extend(folder_videos(item) or [item])
    return expanded


def load_source(item: InputType, position: int = 0,
                allow_truncated: bool = False) -> InputSource:
    """Turn one input of the inferencer into an :class:`InputSource`.

    Inputs:

    - a video file with a sound track (mp4, mkv, avi, webm, mov, ... through
      PyAV/FFmpeg), or ``dict(video=path, name=None)``;
    - a folder of frames (sorted by name, numbers numerically) with one
      sound file in it, or ``dict(frames=folder, audio=sound_file,
      frame_rate=None, name=None)``; without ``frame_rate`` the rate is
      frames / sound duration (1.0 for an AVSBench clip);
    - in-memory arrays: ``dict(frames=uint8 [N, H, W, 3] (or a list of
      [H, W, 3]), audio=waveform [S] or [S, C] with sample_rate=int, or
      log-mel examples [N, 1, 96, 64] (one per frame), frame_rate=float or
      timestamps=[N] seconds, channel_order='bgr' | 'rgb', name=str)``.

    Args:
        item (str | PathLike | dict): One input, as listed above.
        position (int): Position in the inputs (names unnamed arrays).
        allow_truncated (bool): Accept truncated video files.

    Returns:
        InputSource: The input.

    Raises:
        VideoReadError: A file is missing, unreadable or too short.
        ValueError: A dict input with wrong keys, shapes or values.
        TypeError: Neither a path nor a dict.
    """
    if isinstance(item, (str, os.PathLike)):
        path = os.fspath(item)
        if osp.isdir(path):
            return frame_folder_source(path)
        return video_source(path, allow_truncated)
    if not isinstance(item, dict):
        raise TypeError('An input must be a video path, a frame folder '
                        f'or a dict, got {type(item).__name__}')
    if 'video' in item:
        source = video_source(os.fspath(item['video']), allow_truncated)
        source.name = item.get('name') or source.name
        return source
    frames = item.get('frames')
    if isinstance(frames, (str, os.PathLike)):
        audio = item.get('audio')
        return frame_folder_source(
            os.fspath(frames), None if audio is None else os.fspath(audio),
            item.get('frame_rate'), item.get('name'))
    if frames is None or item.get('audio') is None:
        raise ValueError('A dict input needs "video", or "frames" and '
                         f'"audio"; got keys {sorted(item)}')
    return array_source(item, position)


def video_source(path: str, allow_truncated: bool = False) -> InputSource:
    """A video file with a sound track.

    Args:
        path (str): The file (any container FFmpeg reads).
        allow_truncated (bool): Accept a truncated file (with a warning).

    Returns:
        InputSource: The input; its sound is decoded and checked (and
        not kept: it is decoded again as it is needed), its frames are not.

    Raises:
        VideoReadError: See :func:`mmavs.datasets.video_io.probe_video`;
            also a video shorter than 0.96 s.
    """
    info = probe_video(path, require_audio=True)
    check_min_duration(path, 'video', info.duration)
    audio = scan_audio_track(path, allow_truncated=allow_truncated)
    return InputSource(
        name=osp.splitext(osp.basename(path))[0],
        source=path,
        kind='video',
        # Pictures are converted when looked at: at fps=1 the model's pass
        # looks at one frame a second.
        frames=lambda: iter_video_frames(path, allow_truncated, lazy=True),
        frame_rate=info.frame_rate,
        audio=audio,
        declared_duration=info.duration,
        declared_frames=info.num_frames)


def list_frame_files(folder: str) -> List[str]:
    """The frame images of a folder, in natural name order.

    Args:
        folder (str): The folder.

    Returns:
        list[str]: Paths of its files with a frame extension.
    """
    return [
        osp.join(folder, name)
        for name in sorted(os.listdir(folder), key=natural_key)
        if osp.splitext(name)[1].lower() in FRAME_EXTENSIONS
    ]


def frame_folder_source(folder: str,
                        audio: Optional[str] = None,
                        frame_rate: Optional[float] = None,
                        name: Optional[str] = None) -> InputSource:
    """A folder of frames (sorted by name) and a sound file.

    Args:
        folder (str): The frames.
        audio (str, optional): The sound file; defaults to the one sound
            file in ``folder``.
        frame_rate (float, optional): Frames per second; defaults to
            frames / sound duration.
        name (str, optional): The input's name; defaults to the folder's.

    Returns:
        InputSource: The input.

    Raises:
        VideoReadError: No frames, not exactly one sound file, unreadable
            sound, or frames of different sizes (when iterated).
    """
    frame_files = list_frame_files(folder)
    if not frame_files:
        raise VideoReadError(
            f'{folder}: the folder holds no frame images '
            f'({", ".join(FRAME_EXTENSIONS)}) and no videos '
            f'({", ".join(VIDEO_EXTENSIONS)})')
    if audio is None:
        sounds = [
            osp.join(folder, f) for f in sorted(os.listdir(folder))
            if osp.splitext(f)[1].lower() in AUDIO_EXTENSIONS
        ]
        if len(sounds) != 1:
            found = 'none' if not sounds else ', '.join(
                osp.basename(s) for s in sounds)
            raise VideoReadError(
                f'{folder}: a frame folder needs exactly one sound file '
                f'(found {found}); pass dict(frames=folder, '
                'audio=sound_file)')
        audio = sounds[0]
    track = scan_audio_track(os.fspath(audio))
    rate = infer_frame_rate(frame_rate, len(frame_files), track, folder)

    def frames() -> Iterator[VideoFrame]:
        size = None
        for index, path in enumerate(frame_files):
            image = read_frame(path)
            if size is None:
                size = image.shape[:2]
            elif image.shape[:2] != size:
                raise VideoReadError(
                    f'{path}: frame is {image.shape[:2]} (H, W), the '
                    f'first frame of {folder} is {size}')
            yield VideoFrame(index, index / rate, 1.0 / rate, image)

    return InputSource(
        name=name or osp.basename(osp.normpath(folder)),
        source=folder,
        kind='frames',
        frames=frames,
        frame_rate=rate,
        audio=track,
        declared_duration=len(frame_files) / rate,
        declared_frames=len(frame_files))


def infer_frame_rate(frame_rate: Optional[float], num_frames: int,
                     track: Optional[AudioTrack], name: str) -> float:
    """The frame rate given, or frames / sound duration.

    Args:
        frame_rate (float, optional): Given rate.
        num_frames (int): Frames of the input.
        track (AudioTrack, optional): The sound.
        name (str): Names the input in errors.

    Returns:
        float: The rate; within 2 % of a whole number it is rounded (5
        frames and a 5.02 s wav are 1 fps, not 0.996).

    Raises:
        ValueError: A rate <= 0, or neither a rate nor a sound track.
    """
    if frame_rate is not None:
        if frame_rate <= 0:
            raise ValueError(f'{name}: frame_rate must be positive, got '
                             f'{frame_rate}')
        return float(frame_rate)
    if track is None:
        raise ValueError(f'{name}: give frame_rate or timestamps (the '
                         'audio is given as log-mel examples)')
    rate = num_frames / max(track.duration, 1e-6)
    if abs(rate - round(rate)) < 0.02 * rate and round(rate) > 0:
        rate = float(round(rate))
    return rate


def array_source(item: dict, position: int = 0) -> InputSource:
    """In-memory frames and sound.

    Args:
        item (dict): ``frames`` (uint8 [N, H, W, 3] or a list of [H, W, 3]),
            ``audio`` (a waveform [S] or [S, C] with ``sample_rate``, a
            sound file, or log-mel examples [N, 1, 96, 64]),
            ``frame_rate`` or ``timestamps`` ([N] increasing seconds),
            ``channel_order`` (``'bgr'`` default, or ``'rgb'``), ``name``.
        position (int): Names an unnamed input ``array{position}``.

    Returns:
        InputSource: The input.

    Raises:
        VideoReadError: No frames.
        ValueError: Wrong shapes, dtypes or values.
    """
    name = item.get('name') or f'array{position}'
    frames = item['frames']
    frames = list(frames) if not isinstance(frames, np.ndarray) else \
        list(frames) if frames.ndim == 4 else [frames]
    if not frames:
        raise VideoReadError(f'{name}: no frames')
    shapes = {np.shape(f) for f in frames}
    if len(shapes) != 1 or len(next(iter(shapes))) != 3 or \
            next(iter(shapes))[2] != 3:
        raise ValueError(f'{name}: frames must be [H, W, 3] images of '
                         f'one size, got shapes {sorted(shapes)[:3]}')
    dtypes = {np.asarray(f).dtype for f in frames}
    if dtypes != {np.dtype(np.uint8)}:
        # A float image in [0, 1] would turn black when cast.
        raise ValueError(f'{name}: frames must be uint8 images (0-255), '
                         f'got {sorted(str(d) for d in dtypes)}')
    order = item.get('channel_order', 'bgr')
    if order not in ('bgr', 'rgb'):
        raise ValueError(f"{name}: channel_order must be 'bgr' or "
                         f"'rgb', got {order!r}")
    audio, examples, track = item['audio'], None, None
    if isinstance(audio, (str, os.PathLike)):
        track = scan_audio_track(os.fspath(audio))
    else:
        audio = np.asarray(audio)
        if audio.ndim == 4 and tuple(audio.shape[1:]) == EXAMPLE_SHAPE:
            if len(audio) != len(frames):
                raise ValueError(f'{name}: {len(audio)} log-mel examples '
                                 f'for {len(frames)} frames')
            examples = audio.astype(np.float32)
            if not np.isfinite(examples).all():
                raise ValueError(f'{name}: the log-mel examples hold NaN or '
                                 'infinite values')
        elif audio.ndim in (1, 2):
            if not item.get('sample_rate', 0) > 0:
                raise ValueError(f'{name}: a waveform needs sample_rate > 0, '
                                 f'got {item.get("sample_rate")}')
            rate = int(item['sample_rate'])
            samples = np.ascontiguousarray(
                audio[None] if audio.ndim == 1 else audio.T, dtype=np.float32)
            check_finite_samples(samples.T, name, rate)
            track = AudioTrack(samples, rate, 0.0,
                               'mono' if samples.shape[0] == 1 else 'stereo')
        else:
            raise ValueError(
                f'{name}: audio must be a waveform [S] or [S, C] or '
                f'log-mel examples [N, 1, 96, 64], got {audio.shape}')
    timestamps = item.get('timestamps')
    if timestamps is not None:
        timestamps = np.asarray(timestamps, dtype=np.float64)
        if timestamps.shape != (len(frames), ) or np.any(
                np.diff(timestamps) <= 0):
            raise ValueError(f'{name}: timestamps must be {len(frames)} '
                             'increasing times')
        rate = (len(frames) - 1) / (timestamps[-1] - timestamps[0]) \
            if len(frames) > 1 else infer_frame_rate(
                item.get('frame_rate'), 1, track, name)
    else:
        rate = infer_frame_rate(item.get('frame_rate'), len(frames), track,
                                name)
        timestamps = np.arange(len(frames)) / rate

    def frame_iter() -> Iterator[VideoFrame]:
        for index, image in enumerate(frames):
            image = np.ascontiguousarray(image, dtype=np.uint8)
            if order == 'rgb':
                image = image[..., ::-1]
            end = timestamps[index + 1] if index + 1 < len(frames) \
                else timestamps[index] + 1.0 / rate
            yield VideoFrame(index, float(timestamps[index]),
                             float(end - timestamps[index]), image)

    return InputSource(
        name=name,
        source='<array>',
        kind='arrays',
        frames=frame_iter,
        frame_rate=rate,
        audio=track,
        examples=examples,
        declared_duration=float(timestamps[-1]) + 1.0 / rate,
        declared_frames=len(frames))
