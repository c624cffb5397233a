# Copyright (c) mmavs contributors. All rights reserved.
"""Segment the sounding objects of a video: :class:`AVSInferencer`.

How a video becomes model inputs (the behaviour the tests pin down):

- **Time line.** Second 0 is the start of the video stream; frame times are
  presentation timestamps, so variable frame rate videos keep their timing.
- **Sampling.** ``fps=r`` cuts the video into windows of ``1 / r`` s; window
  ``k`` is represented by the frame on screen at its centre
  ``(k + 0.5) / r`` and paired with the 0.96 s VGGish log-mel example
  centred there. With ``r = 1`` this is AVSBench's one frame and one example
  per second (the example spans ``[k + 0.02, k + 0.98]`` s). Windows whose
  centre lies after the end of the video are not sampled (but the first
  window always is). ``fps='all'`` uses every frame; its example is
  centred on the middle of the frame's display interval
  (``time + duration / 2``), which for a 1 fps frame folder is the same
  pairing as ``fps=1``. A frame may represent two windows when ``r`` is
  above the frame rate or the video stalls (variable frame rate).
- **Audio edges.** Outside the sound track (before it starts, after it ends,
  or half a window at either end of the video) the signal counts as
  silence (zeros), like a microphone that hears nothing. A sound track that
  ends well before the picture is padded the same way, with a warning.
- **Clips.** The model sees clips of T frames (5 for S4/MS3 models, 10 for
  AVSS). A model with a temporal module (one that mixes the frames of a
  clip, e.g. TPAVI) gets frames about one second apart, as in training:
  with ``s`` samples per second, each block of ``s * T`` consecutive
  samples is dealt into ``s`` clips (sample ``i`` of the block goes to clip
  ``i % s``; :func:`deal_clips`). A model that treats frames independently
  (AVSegFormer) gets T consecutive samples per clip: its masks are the same
  either way and this needs the least padding. At the end of the video
  (and for a video shorter than T seconds) clips are padded as the AVSS
  release pads its 5-frame clips: black frames whose audio repeats the
  clip's last real example, flagged ``frame_valid=False``; padded frames
  produce no output.
- **Overlay.** The overlay video has every frame of the input, at its
  times, with the mask of the window the frame falls in (``fps='all'``:
  its own mask), and the input's sound re-encoded as AAC.
- **Too short / broken / silent input.** A video or sound track shorter
  than one 0.96 s window, a file without an audio or a video stream, an
  unreadable or truncated file raise :class:`~mmavs.apis.VideoReadError`
  (truncated files can be accepted with ``allow_truncated=True``). Silence
  is valid input: it is processed (the result says ``audio_silent``) and a
  warning says that a model which listens will find little to segment.
- **Resolution.** Frames go through the config's test pipeline (its
  ``ClipTransform``, e.g. a resize to 224x224), so any frame size works,
  odd ones included. The model predicts at its input size; logits are then
  resized bilinearly to the frame size (as mmseg's ``postprocess_result``
  does, one frame at a time so that memory does not grow with the batch)
  and thresholded (one output channel) or arg-maxed (classes).
"""
import copy
import json
import os
import os.path as osp
import re
import warnings
from dataclasses import dataclass
from difflib import get_close_matches
from typing import (Any, Callable, Dict, Iterator, List, Optional, Sequence,
                    Set, Tuple, Union)

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.infer.infer import BaseInferencer
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import _load_checkpoint_to_model
from mmseg.registry import DATASETS

from mmavs.datasets.audio import (EXAMPLE_NUM_FRAMES, EXAMPLE_SHAPE,
                                  LOG_OFFSET, NUM_MEL_BINS, SAMPLE_RATE,
                                  STFT_HOP_LENGTH, STFT_WINDOW_LENGTH,
                                  log_mel_spectrogram, resample_waveform,
                                  to_mono)
from mmavs.datasets.metainfo import BINARY_PALETTE, bit_interleaved_palette
from mmavs.datasets.readers import read_frame
from mmavs.datasets.video_io import (AudioTrack, VideoFrame, VideoReadError,
                                     iter_video_frames, probe_video,
                                     read_audio_track, write_video)
from mmavs.visualization.avs_visualizer import overlay_mask

#: Samples of audio (16 kHz) one VGGish example looks at: 96 STFT frames.
WINDOW_SAMPLES = STFT_WINDOW_LENGTH + (EXAMPLE_NUM_FRAMES - 1) * \
    STFT_HOP_LENGTH
#: The shortest usable video / sound track: one example, 0.96 s.
MIN_DURATION = EXAMPLE_NUM_FRAMES * STFT_HOP_LENGTH / SAMPLE_RATE
#: A sound track whose peak stays below this (-80 dBFS) counts as silent.
SILENCE_PEAK = 1e-4
#: Frame files of a frame folder.
FRAME_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.webp', '.tif', '.tiff')
#: Sound files looked for in a frame folder.
AUDIO_EXTENSIONS = ('.wav', '.flac', '.ogg', '.mp3', '.m4a', '.aac', '.opus',
                    '.aif', '.aiff')
#: Loading transforms of a test pipeline; the inferencer feeds frames and
#: audio from memory instead.
LOADING_TRANSFORMS = ('LoadAVSFrames', 'LoadAVSAnnotations', 'LoadAVSAudio')
BINARY_META = dict(
    classes=('background', 'foreground'),
    palette=[list(colour) for colour in BINARY_PALETTE])

InputType = Union[str, 'os.PathLike[str]', dict]
InputsType = Union[InputType, Sequence[InputType]]


class AudioWindows:
    """VGGish log-mel examples of 0.96 s windows centred at any time.

    The log-mel spectrogram of the whole track is computed once with
    :func:`mmavs.datasets.audio.log_mel_spectrogram` (the front end the data
    sets use) on a 16 kHz mono copy padded with silence, and an example is
    a slice of 96 of its 10 ms frames. Centres are rounded to the 10 ms
    grid (at most 5 ms off). Parts of a window outside the track are
    silence: ``log(0 + 0.01)`` in every bin.

    Args:
        track (AudioTrack): The sound, any rate and channel count (channels
            are averaged, as for the data sets).

    Examples:
        >>> import numpy as np
        >>> t = np.arange(32000, dtype=np.float32) / 16000
        >>> track = AudioTrack(np.sin(2 * np.pi * 440 * t)[None], 16000)
        >>> AudioWindows(track).example(1.0).shape
        (1, 96, 64)
    """

    def __init__(self, track: AudioTrack) -> None:
        waveform = resample_waveform(
            to_mono(track.samples.T), track.sample_rate, SAMPLE_RATE)
        self.start = track.start
        self.end = track.end
        # Left padding: half a window plus slack, rounded to whole hops so
        # that STFT frame j starts at track sample 160 * j - pad.
        self._pad = -(-(WINDOW_SAMPLES // 2 + STFT_HOP_LENGTH) //
                      STFT_HOP_LENGTH) * STFT_HOP_LENGTH
        padded = np.concatenate([
            np.zeros(self._pad), waveform,
            np.zeros(WINDOW_SAMPLES + STFT_HOP_LENGTH)
        ])
        self._log_mel = log_mel_spectrogram(padded, SAMPLE_RATE)
        self._silence = np.full((EXAMPLE_NUM_FRAMES, NUM_MEL_BINS),
                                np.log(LOG_OFFSET),
                                dtype=np.float32)

    def example(self, centre: float) -> np.ndarray:
        """The log-mel example of the 0.96 s window centred at ``centre``.

        Args:
            centre (float): Seconds on the video's time line.

        Returns:
            np.ndarray: float32 [1, 96, 64].
        """
        first_sample = (centre - self.start) * SAMPLE_RATE - WINDOW_SAMPLES / 2
        first = int(round((first_sample + self._pad) / STFT_HOP_LENGTH))
        example = self._silence.copy()
        begin = max(first, 0)
        stop = min(first + EXAMPLE_NUM_FRAMES, len(self._log_mel))
        if begin < stop:
            example[begin - first:stop - first] = self._log_mel[begin:stop]
        return example[None]


@dataclass
class _Source:
    """One input, normalised: how to get its frames and its sound."""

    name: str
    source: str
    kind: str
    frames: Callable[[], Iterator[VideoFrame]]
    frame_rate: Optional[float]
    audio: Optional[AudioTrack] = None
    examples: Optional[np.ndarray] = None
    declared_duration: Optional[float] = None
    declared_frames: Optional[int] = None

    @property
    def label(self) -> str:
        """How messages name the input: its path, or its name."""
        return self.name if self.kind == 'arrays' else self.source


@dataclass
class _Sample:
    """A frame chosen for inference and the time its audio is centred on."""

    index: int
    frame_index: int
    time: float
    centre: float
    image: Optional[np.ndarray]
    shape: Tuple[int, int] = (0, 0)


class _Sampler:
    """Choose frames for ``fps`` and pair them with audio times.

    Iterating yields :class:`_Sample` s; afterwards ``duration`` holds the
    video's length (end of the last frame) and ``num_frames`` the number of
    decoded frames.
    """

    def __init__(self, frames: Iterator[VideoFrame], fps: Union[float, str],
                 nominal_rate: Optional[float]) -> None:
        self.frames = frames
        self.fps = fps
        self.nominal = 1.0 / nominal_rate if nominal_rate else None
        self.duration: Optional[float] = None
        self.num_frames = 0

    def _frame_duration(self, frame: VideoFrame,
                        next_frame: Optional[VideoFrame]) -> float:
        if next_frame is not None:
            return next_frame.time - frame.time
        return frame.duration or self.nominal or 0.04

    def __iter__(self) -> Iterator[_Sample]:
        count = 0
        previous: Optional[VideoFrame] = None
        window = 0
        for frame in self.frames:
            self.num_frames += 1
            if previous is not None:
                if self.fps == 'all':
                    yield self._all(count, previous, frame)
                    count += 1
                else:
                    # ``previous`` is on screen until ``frame.time``.
                    while self._centre(window) < frame.time:
                        yield self._sample(count, window, previous)
                        count += 1
                        window += 1
            elif self.fps != 'all':
                # A video whose first frame comes late: the windows before
                # it show that first frame.
                while self._centre(window) < frame.time:
                    yield self._sample(count, window, frame)
                    count += 1
                    window += 1
            previous = frame
        if previous is None:
            return
        self.duration = previous.time + self._frame_duration(previous, None)
        if self.fps == 'all':
            yield self._all(count, previous, None)
        else:
            # At least one window, even when a low fps puts the first
            # centre after the end.
            while self._centre(window) < self.duration or count == 0:
                yield self._sample(count, window, previous)
                count += 1
                window += 1

    def _centre(self, window: int) -> float:
        return (window + 0.5) / float(self.fps)

    def _sample(self, count: int, window: int, frame: VideoFrame) -> _Sample:
        return _Sample(count, frame.index, frame.time, self._centre(window),
                       frame.image, frame.image.shape[:2])

    def _all(self, count: int, frame: VideoFrame,
             next_frame: Optional[VideoFrame]) -> _Sample:
        centre = frame.time + self._frame_duration(frame, next_frame) / 2
        return _Sample(count, frame.index, frame.time, centre, frame.image,
                       frame.image.shape[:2])


def deal_clips(count: int, stride: int, num_frames: int) -> List[List[int]]:
    """Deal a block of samples into clips of frames about 1 s apart.

    With ``stride`` samples per second, sample ``i`` of a block of
    ``stride * num_frames`` goes to clip ``i % stride`` at position
    ``i // stride``. A short (last) block leaves the clips' tails empty:
    those positions are padding (-1). ``stride=1`` gives consecutive clips.

    Args:
        count (int): Samples in the block, 1 <= count <= stride * T.
        stride (int): Samples per second (>= 1).
        num_frames (int): Frames per clip T.

    Returns:
        list[list[int]]: Per clip, T positions in the block or -1. Clips
        without any sample are left out.

    Examples:
        >>> deal_clips(5, 2, 3)
        [[0, 2, 4], [1, 3, -1]]
        >>> deal_clips(7, 1, 5)
        [[0, 1, 2, 3, 4], [5, 6, -1, -1, -1]]
    """
    if count < 1 or stride < 1 or num_frames < 1:
        raise ValueError('deal_clips needs count, stride, num_frames >= 1')
    if stride == 1:
        return [[i if i < count else -1 for i in range(s, s + num_frames)]
                for s in range(0, count, num_frames)]
    if count > stride * num_frames:
        raise ValueError(f'A block holds at most {stride * num_frames} '
                         f'samples, got {count}')
    return [[
        offset + p * stride if offset + p * stride < count else -1
        for p in range(num_frames)
    ] for offset in range(min(stride, count))]


def unique_name(name: str, used: Set[str]) -> str:
    """``name``, or ``name_1``, ``name_2``, ... when taken; the result is
    added to ``used``.

    Args:
        name (str): Wanted name (of an output folder).
        used (set[str]): Names given out so far; updated.

    Returns:
        str: A name not in ``used`` before the call.
    """
    unique, count = name, 0
    while unique in used:
        count += 1
        unique = f'{name}_{count}'
    used.add(unique)
    return unique


def _natural_key(name: str):
    return [
        int(part) if part.isdigit() else part.lower()
        for part in re.split(r'(\d+)', name)
    ]


def _config_roots() -> List[str]:
    package = osp.dirname(osp.dirname(osp.abspath(__file__)))
    return [
        osp.join(osp.dirname(package), 'configs'),
        osp.join(package, '.mim', 'configs')
    ]


def find_config(name: str) -> str:
    """Find a shipped config by its name (with or without ``.py``).

    Args:
        name (str): E.g. ``'avsegformer_r50_1xb4-30e_avsbench-s4-224x224'``
            or a path relative to ``configs/``.

    Returns:
        str: The config file.

    Raises:
        ValueError: No shipped config has that name; the message lists the
            closest names.
    """
    stem = name[:-3] if name.endswith('.py') else name
    found = {}
    for root in _config_roots():
        if not osp.isdir(root):
            continue
        if osp.isfile(osp.join(root, stem + '.py')):
            return osp.join(root, stem + '.py')
        for folder, _, files in os.walk(root):
            if '_base_' in folder.split(os.sep):
                continue
            for file in files:
                if file.endswith('.py'):
                    found.setdefault(file[:-3], osp.join(folder, file))
    if osp.basename(stem) in found:
        return found[osp.basename(stem)]
    close = get_close_matches(osp.basename(stem), list(found), n=5)
    hint = f'; did you mean {", ".join(close)}?' if close else ''
    raise ValueError(f'No config file or shipped config named {name!r}'
                     f'{hint}')


class AVSInferencer(BaseInferencer):
    """Segment the sounding objects in videos with an mmavs model.

    In the style of mmseg's ``MMSegInferencer``: built from a config (a
    path, the name of a shipped config, or a ``Config``) and a checkpoint;
    calling it with one or more inputs returns the masks. See the module
    docstring for how frames are sampled, paired with audio and batched.

    Inputs (one, or a list):

    - a video file with a sound track (mp4, mkv, avi, webm, mov, ... through
      PyAV/FFmpeg);
    - a folder of frames (sorted by name, numbers numerically) with one
      sound file in it, or ``dict(frames=folder, audio=sound_file,
      frame_rate=None)``; without ``frame_rate`` the rate is frames / sound
      duration (1.0 for an AVSBench clip);
    - in-memory arrays: ``dict(frames=uint8 [N, H, W, 3] (or a list of
      [H, W, 3]), audio=waveform [S] or [S, C] with sample_rate=int, or
      log-mel examples [N, 1, 96, 64] (one per frame), frame_rate=float or
      timestamps=[N] seconds, channel_order='bgr' | 'rgb', name=str)``.

    Args:
        model (str | Config | dict, optional): Config file, name of a shipped
            config (e.g. ``'avsegformer_r50_1xb4-30e_avsbench-s4-224x224'``)
            or config. None reads the config saved in ``weights``.
        weights (str, optional): Checkpoint. None runs random weights (with
            a warning): fine for tests, meaningless masks.
        device (str, optional): ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ...
            Defaults to CUDA when available.
        num_frames (int, optional): Frames per clip T. Defaults to the
            config's test data set (5 for S4/MS3, 10 for AVSS).
        classes (Sequence[str], optional): Class names. Defaults to the
            checkpoint's ``dataset_meta``, else the config's data set.
        palette (Sequence[Sequence[int]], optional): RGB colour per class.
            Defaults like ``classes``; binary models draw magenta.
        scope (str): Registry scope. Defaults to ``'mmseg'``.
        show_progress (bool): Show a progress bar per input. Defaults to
            False.

    Examples:
        >>> inferencer = AVSInferencer(
        ...     'avsegformer_r50_1xb4-30e_avsbench-s4-224x224',
        ...     weights='avsegformer_r50_s4.pth', device='cpu')
        >>> result = inferencer('my_video.mp4', fps=1)
        >>> result['masks'].shape   # [N, H, W] uint8, N = sampled frames
    """

    # The keyword arguments of __call__, grouped by the stage that uses them
    # (BaseInferencer's convention; __call__ lists them explicitly because
    # it streams each input through all stages).
    preprocess_kwargs: set = {'fps', 'allow_truncated'}
    forward_kwargs: set = set()
    visualize_kwargs: set = {'opacity'}
    postprocess_kwargs: set = {
        'out_dir', 'save_masks', 'save_overlay', 'save_summary'
    }

    def __init__(self,
                 model: Union[str, Config, dict, None] = None,
                 weights: Optional[str] = None,
                 device: Optional[str] = None,
                 num_frames: Optional[int] = None,
                 classes: Optional[Sequence[str]] = None,
                 palette: Optional[Sequence[Sequence[int]]] = None,
                 scope: str = 'mmseg',
                 show_progress: bool = False) -> None:
        init_default_scope(scope)
        if isinstance(model, (str, os.PathLike)):
            path = os.fspath(model)
            model = Config.fromfile(
                path if osp.isfile(path) else find_config(path))
        if device is not None and str(device).startswith(
                'cuda') and not torch.cuda.is_available():
            raise ValueError(f'device={device!r} but CUDA is not available '
                             'on this machine; use device="cpu"')
        super().__init__(
            model=model,
            weights=weights,
            device=device,
            scope=scope,
            show_progress=show_progress)
        if str(next(self.model.parameters()).device) == 'cpu':
            # SyncBN configs cannot run outside distributed training.
            self.model = revert_sync_batchnorm(self.model)
        if num_frames is not None and num_frames < 1:
            raise ValueError(f'num_frames must be >= 1, got {num_frames}')
        self.num_frames = int(num_frames or self._config_num_frames())
        # Clips of frames one second apart matter only to models that mix
        # the frames of a clip; the others get consecutive samples, which
        # needs the least padding (the masks are the same either way).
        self.interleave_clips = not getattr(
            self.model, 'processes_frames_independently', False)
        meta = dict(getattr(self.model, 'dataset_meta', None) or {})
        if classes is not None:
            meta['classes'] = tuple(classes)
        if palette is not None:
            meta['palette'] = [list(color) for color in palette]
        self.dataset_meta = self._complete_meta(meta)
        self.model.dataset_meta = self.dataset_meta

    # ------------------------------------------------------------------
    # Building (BaseInferencer hooks)
    # ------------------------------------------------------------------
    def _dataset_class(self):
        try:
            dataset_type = self.cfg.test_dataloader.dataset.type
            return DATASETS.get(dataset_type)
        except (AttributeError, KeyError):
            return None

    def _config_num_frames(self) -> int:
        dataset_class = self._dataset_class()
        return int(getattr(dataset_class, 'NUM_FRAMES', 5))

    def _complete_meta(self, meta: dict) -> dict:
        """Fill in classes and palette from the config, or defaults."""
        binary = self.model.out_channels == 1
        if not meta.get('classes'):
            dataset_class = self._dataset_class()
            metainfo = getattr(dataset_class, 'METAINFO', {}) or {}
            if metainfo.get('classes') and (binary or len(metainfo['classes'])
                                            == self.model.num_classes):
                meta['classes'] = tuple(metainfo['classes'])
                meta.setdefault('palette', metainfo.get('palette'))
            elif binary:
                meta['classes'] = BINARY_META['classes']
            else:
                meta['classes'] = tuple(
                    f'class_{index}'
                    for index in range(self.model.num_classes))
        if binary:
            meta['palette'] = BINARY_META['palette']
        elif not meta.get('palette'):
            meta['palette'] = bit_interleaved_palette(len(meta['classes']))
        meta['classes'] = tuple(meta['classes'])
        return meta

    def _load_weights_to_model(self, model: torch.nn.Module,
                               checkpoint: Optional[dict],
                               cfg: Optional[Config]) -> None:
        """Load the weights and the checkpoint's ``dataset_meta``.

        Args:
            model (torch.nn.Module): The built model.
            checkpoint (dict, optional): The loaded checkpoint.
            cfg (Config, optional): The config.
        """
        if checkpoint is None:
            warnings.warn('No checkpoint given: the inferencer runs a '
                          'randomly initialised model, whose masks mean '
                          'nothing.')
            return
        _load_checkpoint_to_model(model, checkpoint)
        dataset_meta = checkpoint.get('meta', {}).get('dataset_meta')
        if dataset_meta:
            model.dataset_meta = {
                'classes': dataset_meta.get('classes'),
                'palette': dataset_meta.get('palette')
            }

    def _init_pipeline(self, cfg: Config) -> Callable:
        """The config's test pipeline without its file loaders.

        Frames and audio come from memory, so ``LoadAVSFrames``,
        ``LoadAVSAudio`` and ``LoadAVSAnnotations`` are dropped; what is left
        must end with ``PackAVSInputs``. The transforms before it (e.g.
        ``ClipTransform(Resize)``) are also kept apart in
        ``self.frame_pipeline``, which the inferencer runs on each frame as
        it is decoded, so that only resized frames wait for their clip.
        Test pipelines are deterministic, so running them per frame gives
        the same frames as running them per clip.

        Args:
            cfg (Config): The config.

        Returns:
            Callable: The pipeline for one clip (a dict with ``imgs``,
            ``audio``, ``img_shape``, ``ori_shape``, ``num_frames``, ...).
        """
        try:
            pipeline_cfg = cfg.test_dataloader.dataset.pipeline
        except AttributeError:
            pipeline_cfg = cfg.get('test_pipeline')
        if not pipeline_cfg:
            raise ValueError('The config has no test pipeline '
                             '(test_dataloader.dataset.pipeline)')
        kept = [
            copy.deepcopy(transform) for transform in pipeline_cfg
            if transform['type'].split('.')[-1] not in LOADING_TRANSFORMS
        ]
        if not kept or kept[-1]['type'].split('.')[-1] != 'PackAVSInputs':
            raise ValueError('The test pipeline must end with PackAVSInputs; '
                             f'got {[t["type"] for t in pipeline_cfg]}')
        pipeline = Compose(kept)
        self.frame_pipeline = Compose(pipeline.transforms[:-1])
        self.pack = pipeline.transforms[-1]
        return pipeline

    def _init_visualizer(self, cfg: Config) -> None:
        """No mmengine visualizer: overlays are drawn with
        :func:`~mmavs.visualization.overlay_mask`, and building the
        config's visualizer would create a global named instance."""
        return None

    def _init_collate(self, cfg: Config) -> Callable:
        """Clips are collated with mmengine's ``pseudo_collate``, as the
        :class:`~mmavs.models.AVSDataPreProcessor` expects."""
        return pseudo_collate

    # ------------------------------------------------------------------
    # Inputs
    # ------------------------------------------------------------------
    def _inputs_to_list(self, inputs: InputsType) -> list:
        """One input (a path, a folder, a dict) or a list of them.

        Args:
            inputs (str | dict | list): See the class docstring. A folder is
                one input (a frame folder), not a list of files.

        Returns:
            list: The inputs.
        """
        if isinstance(inputs, (list, tuple)):
            return list(inputs)
        return [inputs]

    def _load_source(self, item: InputType, position: int,
                     allow_truncated: bool) -> _Source:
        if isinstance(item, (str, os.PathLike)):
            path = os.fspath(item)
            if osp.isdir(path):
                return self._frame_folder(path, None, None, None)
            return self._video_file(path, allow_truncated)
        if not isinstance(item, dict):
            raise TypeError('An input must be a video path, a frame folder '
                            f'or a dict, got {type(item).__name__}')
        item = dict(item)
        if 'video' in item:
            source = self._video_file(
                os.fspath(item['video']), allow_truncated)
            source.name = item.get('name', source.name)
            return source
        frames = item.get('frames')
        if isinstance(frames, (str, os.PathLike)):
            audio = item.get('audio')
            return self._frame_folder(
                os.fspath(frames), None if audio is None else os.fspath(audio),
                item.get('frame_rate'), item.get('name'))
        if frames is None or item.get('audio') is None:
            raise ValueError('A dict input needs "video", or "frames" and '
                             f'"audio"; got keys {sorted(item)}')
        return self._arrays(item, position)

    def _video_file(self, path: str, allow_truncated: bool) -> _Source:
        info = probe_video(path, require_audio=True)
        if info.duration is not None and info.duration < MIN_DURATION:
            raise VideoReadError(
                f'{path}: the video is {info.duration:.2f} s long, shorter '
                f'than one {MIN_DURATION:.2f} s audio window')
        audio = read_audio_track(path, allow_truncated=allow_truncated)
        return _Source(
            name=osp.splitext(osp.basename(path))[0],
            source=path,
            kind='video',
            frames=lambda: iter_video_frames(path, allow_truncated),
            frame_rate=info.frame_rate,
            audio=audio,
            declared_duration=info.duration,
            declared_frames=info.num_frames)

    def _frame_folder(self, folder: str, audio: Optional[str],
                      frame_rate: Optional[float],
                      name: Optional[str]) -> _Source:
        files = sorted(os.listdir(folder), key=_natural_key)
        frame_files = [
            osp.join(folder, f) for f in files
            if osp.splitext(f)[1].lower() in FRAME_EXTENSIONS
        ]
        if not frame_files:
            raise VideoReadError(f'{folder}: the folder holds no frame '
                                 f'images ({", ".join(FRAME_EXTENSIONS)})')
        if audio is None:
            sounds = [
                osp.join(folder, f) for f in files
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
        track = read_audio_track(os.fspath(audio))
        rate = self._frame_rate(frame_rate, len(frame_files), track, folder)

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

        return _Source(
            name=name or osp.basename(osp.normpath(folder)),
            source=folder,
            kind='frames',
            frames=frames,
            frame_rate=rate,
            audio=track,
            declared_duration=len(frame_files) / rate,
            declared_frames=len(frame_files))

    @staticmethod
    def _frame_rate(frame_rate: Optional[float], num_frames: int,
                    track: Optional[AudioTrack], name: str) -> float:
        if frame_rate is not None:
            if frame_rate <= 0:
                raise ValueError(f'{name}: frame_rate must be positive, got '
                                 f'{frame_rate}')
            return float(frame_rate)
        if track is None:
            raise ValueError(f'{name}: give frame_rate or timestamps (the '
                             'audio is given as log-mel examples)')
        rate = num_frames / max(track.duration, 1e-6)
        # 5 frames and a 5.02 s wav are 1 fps, not 0.996.
        if abs(rate - round(rate)) < 0.02 * rate and round(rate) > 0:
            rate = float(round(rate))
        return rate

    def _arrays(self, item: dict, position: int) -> _Source:
        name = item.get('name', f'array{position}')
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
            track = read_audio_track(os.fspath(audio))
        else:
            audio = np.asarray(audio)
            if audio.ndim == 4 and tuple(audio.shape[1:]) == EXAMPLE_SHAPE:
                if len(audio) != len(frames):
                    raise ValueError(f'{name}: {len(audio)} log-mel examples '
                                     f'for {len(frames)} frames')
                examples = audio.astype(np.float32)
            elif audio.ndim in (1, 2):
                if 'sample_rate' not in item:
                    raise ValueError(f'{name}: a waveform needs sample_rate')
                samples = audio[None] if audio.ndim == 1 else audio.T
                track = AudioTrack(
                    np.ascontiguousarray(samples, dtype=np.float32),
                    int(item['sample_rate']), 0.0,
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
                if len(frames) > 1 else self._frame_rate(
                    item.get('frame_rate'), 1, track, name)
        else:
            rate = self._frame_rate(
                item.get('frame_rate'), len(frames), track, name)
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

        return _Source(
            name=name,
            source='<array>',
            kind='arrays',
            frames=frame_iter,
            frame_rate=rate,
            audio=track,
            examples=examples,
            declared_duration=float(timestamps[-1]) + 1.0 / rate,
            declared_frames=len(frames))

    # ------------------------------------------------------------------
    # Preprocess / forward
    # ------------------------------------------------------------------
    @staticmethod
    def _check_fps(fps) -> Union[float, str]:
        if isinstance(fps, str):
            if fps.lower() == 'all':
                return 'all'
            try:
                fps = float(fps)
            except ValueError:
                raise ValueError(f"fps must be a number or 'all', got "
                                 f'{fps!r}') from None
        if not isinstance(fps, (int, float)) or not fps > 0:
            raise ValueError(f"fps must be a positive number or 'all', got "
                             f'{fps!r}')
        return float(fps)

    def _transform_frame(self, image: np.ndarray, name: str) -> dict:
        shape = image.shape[:2]
        results = dict(
            imgs=[image],
            img_shape=shape,
            ori_shape=shape,
            num_frames=1,
            clip_name=name,
            frame_valid=[1])
        results = self.frame_pipeline(results)
        if results is None:
            raise ValueError('The test pipeline dropped a frame; test '
                             'pipelines must keep every frame')
        return results

    def preprocess(self,
                   source: _Source,
                   batch_size: int = 1,
                   fps: Union[float, str] = 1.0,
                   samples: Optional[Dict[int, _Sample]] = None,
                   sampler_out: Optional[list] = None,
                   **kwargs) -> Iterator[Tuple[dict, List[List[int]]]]:
        """Sample one input's frames and pack them into batches of clips.

        Args:
            source (_Source): The input, from :meth:`_load_source`.
            batch_size (int): Clips per batch. Defaults to 1.
            fps (float | str): Sampling rate or ``'all'``. Defaults to 1.
            samples (dict, optional): Filled with sample index ->
                :class:`_Sample` (image dropped) as frames are sampled.
            sampler_out (list, optional): The :class:`_Sampler` is appended,
                so that the caller can read the duration afterwards.

        Yields:
            tuple[dict, list[list[int]]]: A collated batch for
            ``model.test_step`` and, per clip, the sample index of each of
            its T frames (-1 for padding).
        """
        fps = self._check_fps(fps)
        rate = source.frame_rate
        stride = 1
        if self.interleave_clips:
            per_second = rate if fps == 'all' else fps
            stride = max(1, int(round(per_second or 1)))
        if fps != 'all' and rate and fps > rate * 1.001:
            warnings.warn(f'{source.name}: fps={fps:g} is above the frame '
                          f'rate ({rate:.3g}); frames will repeat')
        sampler = _Sampler(source.frames(), fps, rate)
        if sampler_out is not None:
            sampler_out.append(sampler)
        windows = AudioWindows(source.audio) if source.audio else None
        block_size = stride * self.num_frames
        block: List[Tuple[int, np.ndarray, np.ndarray]] = []
        clips: List[Tuple[dict, List[int]]] = []
        state = dict(meta=None, black=None, clip_index=0, shape=None)

        def flush_block() -> None:
            for positions in deal_clips(len(block), stride, self.num_frames):
                real = [block[p] for p in positions if p >= 0]
                pad = self.num_frames - len(real)
                imgs = [entry[1] for entry in real] + [state['black']] * pad
                audio = [entry[2] for entry in real] + [real[-1][2]] * pad
                results = dict(state['meta'])
                results.update(
                    imgs=imgs,
                    audio=np.stack(audio),
                    ori_shape=results['img_shape'],
                    num_frames=self.num_frames,
                    clip_name=source.name,
                    sample_idx=state['clip_index'],
                    frame_valid=[1] * len(real) + [0] * pad)
                state['clip_index'] += 1
                clips.append(
                    (self.pack(results), [entry[0]
                                          for entry in real] + [-1] * pad))
            block.clear()

        def batches(final: bool):
            while len(clips) >= batch_size or (final and clips):
                chunk = clips[:batch_size]
                del clips[:batch_size]
                yield (self.collate_fn([packed for packed, _ in chunk]),
                       [slots for _, slots in chunk])

        for sample in sampler:
            if state['meta'] is not None and sample.shape != state['shape']:
                raise VideoReadError(
                    f'{source.label}: the frame size changes from '
                    f'{state["shape"]} to {sample.shape} (H, W) at frame '
                    f'{sample.frame_index}; a video must keep one size')
            transformed = self._transform_frame(sample.image, source.name)
            if state['meta'] is None:
                state['shape'] = sample.shape
                state['meta'] = {
                    key: value
                    for key, value in transformed.items()
                    if key not in ('imgs', 'seg_fields', 'num_frames',
                                   'clip_name', 'frame_valid', 'ori_shape')
                }
                state['black'] = self._transform_frame(
                    np.zeros_like(sample.image), source.name)['imgs'][0]
            if source.examples is not None:
                example = source.examples[sample.frame_index]
            else:
                example = windows.example(sample.centre)
            block.append((sample.index, transformed['imgs'][0], example))
            if samples is not None:
                # Only the resized frame waits for its clip.
                sample.image = None
                samples[sample.index] = sample
            if len(block) == block_size:
                flush_block()
                yield from batches(final=False)
        if block:
            flush_block()
        yield from batches(final=True)

    @torch.no_grad()
    def forward(self, inputs: dict, **kwargs) -> list:
        """Run the model on a collated batch of clips.

        Args:
            inputs (dict): A batch from :meth:`preprocess`.

        Returns:
            list[SegDataSample]: B*T frame predictions (clip major) at the
            model's input size.
        """
        return self.model.test_step(inputs)

    def _to_frame_size(self, pred,
                       size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
        """Resize one prediction to the frame size; mask and score.

        For one output channel the model returns sigmoid probabilities;
        they are turned back into logits so that resizing, sigmoid and
        threshold happen in mmseg's order (the clamp only touches
        saturated pixels, far from the threshold).
        """
        logits = pred.seg_logits.data.float()
        binary = logits.shape[0] == 1
        if binary:
            eps = 1e-6
            logits = torch.logit(logits.clamp(eps, 1 - eps))
        if tuple(logits.shape[-2:]) != tuple(size):
            logits = F.interpolate(
                logits[None],
                size=tuple(size),
                mode='bilinear',
                align_corners=self.model.align_corners)[0]
        if binary:
            threshold = getattr(self.model.decode_head, 'threshold', None)
            probability = logits[0].sigmoid()
            mask = probability > (0.5 if threshold is None else threshold)
            score = probability
        else:
            mask = logits.argmax(dim=0)
            score = logits.softmax(dim=0).max(dim=0).values
        return (mask.to(torch.uint8).cpu().numpy(),
                score.to(torch.float16).cpu().numpy())

    # ------------------------------------------------------------------
    # Visualize / postprocess
    # ------------------------------------------------------------------
    def visualize(self,
                  inputs: List[np.ndarray],
                  preds: List[np.ndarray],
                  opacity: float = 0.5,
                  **kwargs) -> List[np.ndarray]:
        """Draw masks over frames.

        Args:
            inputs (list[np.ndarray]): uint8 [H, W, 3] BGR frames.
            preds (list[np.ndarray]): uint8 [H, W] masks (class ids).
            opacity (float): Opacity of the mask colour. Defaults to 0.5.

        Returns:
            list[np.ndarray]: uint8 [H, W, 3] RGB overlays.
        """
        palette = self.dataset_meta['palette']
        return [
            overlay_mask(
                cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), mask, palette, opacity)
            for frame, mask in zip(inputs, preds)
        ]

    def postprocess(self,
                    preds: Dict[str, Any],
                    visualization: Optional[List[np.ndarray]] = None,
                    return_datasample: bool = False,
                    **kwargs) -> dict:
        """Stack one input's per-frame outputs into the result dict.

        Args:
            preds (dict): ``masks``, ``scores`` (lists of [H, W] arrays),
                ``samples`` (list of :class:`_Sample`), ``data_samples``
                and the input's facts (``name``, ``source``, ``duration``,
                ...).
            visualization (list[np.ndarray], optional): Unused (overlays
                go to the overlay video).
            return_datasample (bool): Keep the model's ``SegDataSample`` s
                (at the model's input size) under ``data_samples``.

        Returns:
            dict: See :meth:`__call__`.
        """
        samples = preds['samples']
        height, width = preds['frame_size']
        masks = np.stack(preds['masks']) if preds['masks'] else np.zeros(
            (0, height, width), np.uint8)
        scores = np.stack(preds['scores']) if preds['scores'] else np.zeros(
            (0, height, width), np.float16)
        result = dict(
            name=preds['name'],
            source=preds['source'],
            masks=masks,
            scores=scores,
            timestamps=np.array([s.time for s in samples], dtype=np.float64),
            frame_indices=np.array([s.frame_index for s in samples],
                                   dtype=np.int64),
            audio_centres=np.array([s.centre for s in samples],
                                   dtype=np.float64),
            frame_size=(height, width),
            duration=preds['duration'],
            frame_rate=preds['frame_rate'],
            num_video_frames=preds['num_video_frames'],
            fps=preds['fps'],
            num_frames_per_clip=self.num_frames,
            num_padded=preds['num_padded'],
            audio_silent=preds['audio_silent'],
            classes=self.dataset_meta['classes'])
        result['summary'] = summarize(result)
        if return_datasample:
            result['data_samples'] = preds['data_samples']
        return result

    # ------------------------------------------------------------------
    # The call
    # ------------------------------------------------------------------
    def __call__(self,
                 inputs: InputsType,
                 fps: Union[float, str] = 1.0,
                 batch_size: int = 1,
                 out_dir: Optional[str] = None,
                 save_masks: bool = True,
                 save_overlay: bool = True,
                 save_summary: bool = True,
                 opacity: float = 0.5,
                 allow_truncated: bool = False,
                 return_datasamples: bool = False) -> Union[dict, List[dict]]:
        """Segment the sounding objects of one or more inputs.

        Each input is decoded once, streaming: frames are sampled, resized
        and batched as they are decoded, so memory holds a block of resized
        frames, not the video. The returned masks and scores, at the frame
        size, are held in memory (N * H * W * 3 bytes per input).

        Args:
            inputs (str | dict | list): One input or a list; see the class
                docstring.
            fps (float | str): Frames per second to segment (1 = AVSBench),
                or ``'all'`` for every frame. Defaults to 1.
            batch_size (int): Clips per forward pass. Defaults to 1.
            out_dir (str, optional): Write, per input, to
                ``out_dir/<name>/``: ``masks/<k>.png`` (k = 6-digit sample
                number; 0/255 PNGs for binary models, palette-coloured RGB
                PNGs (AVSS ground-truth format) for class models),
                ``overlay.mp4`` (every frame of the input with the mask of
                its window drawn on it, H.264, with the original sound
                re-encoded as AAC) and ``summary.json`` (see
                :func:`summarize`). Inputs with the same name get ``_1``,
                ``_2``, ... suffixes.
            save_masks (bool): Write the mask PNGs. Defaults to True.
            save_overlay (bool): Write the overlay video. Defaults to True.
            save_summary (bool): Write the JSON summary. Defaults to True.
            opacity (float): Mask opacity in the overlay. Defaults to 0.5.
            allow_truncated (bool): Use the decodable part of a truncated
                file (with a warning) instead of raising. Defaults to False.
            return_datasamples (bool): Also return the model's frame
                ``SegDataSample`` s. Defaults to False.

        Returns:
            dict | list[dict]: For a single input a dict, for a list a list
            of dicts, each with

            - ``masks`` (np.ndarray): uint8 [N, H, W], 0/1 or class ids, at
              the frame size (N = sampled frames).
            - ``scores`` (np.ndarray): float16 [N, H, W], the foreground
              probability (one output channel) or the top class
              probability.
            - ``timestamps`` (np.ndarray): float64 [N], presentation time
              (s) of each frame.
            - ``frame_indices`` (np.ndarray): int64 [N], the frames'
              positions in the input.
            - ``audio_centres`` (np.ndarray): float64 [N], centre (s) of
              each frame's 0.96 s audio window.
            - ``name``, ``source``, ``frame_size`` (H, W), ``duration`` (s),
              ``frame_rate``, ``num_video_frames``, ``fps``,
              ``num_frames_per_clip``, ``num_padded`` (padding frames the
              model saw), ``audio_silent``, ``classes``, ``summary`` (see
              :func:`summarize`), ``out_files`` (with ``out_dir``) and
              ``data_samples`` (with ``return_datasamples``).

        Raises:
            VideoReadError: An input is missing, unreadable, truncated, too
                short, or lacks its audio or video stream.
            ValueError: Bad arguments (``fps``, array shapes, ...).
        """
        fps = self._check_fps(fps)
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        single = not isinstance(inputs, (list, tuple))
        used_names: Set[str] = set()
        results = []
        for position, item in enumerate(self._inputs_to_list(inputs)):
            source = self._load_source(item, position, allow_truncated)
            result = self._infer_source(source, fps, batch_size,
                                        return_datasamples)
            if out_dir is not None:
                name = unique_name(source.name, used_names)
                result['out_files'] = self._write_outputs(
                    source, result, osp.join(out_dir, name), save_masks,
                    save_overlay, save_summary, opacity)
            results.append(result)
        return results[0] if single else results

    def _infer_source(self, source: _Source, fps: Union[float, str],
                      batch_size: int, return_datasamples: bool) -> dict:
        """Run one input through preprocess, forward and postprocess."""
        for what, length in (('video', source.declared_duration),
                             ('sound track', source.audio.duration
                              if source.audio is not None else None)):
            if length is not None and length < MIN_DURATION:
                raise VideoReadError(
                    f'{source.label}: the {what} is {length:.2f} s long, '
                    f'shorter than one {MIN_DURATION:.2f} s audio window')
        samples: Dict[int, _Sample] = {}
        sampler_out: list = []
        pending: Dict[int, Any] = {}
        outputs = dict(masks=[], scores=[], data_samples=[])
        frame_size = None
        num_padded = 0
        total = None
        if source.declared_duration:
            # An estimate for the progress bar only.
            if fps != 'all':
                total = int(source.declared_duration * fps + 0.5)
            elif source.declared_frames or source.frame_rate:
                total = source.declared_frames or int(
                    source.declared_duration * source.frame_rate + 0.5)
        progress = None
        if self.show_progress:
            from tqdm import tqdm
            progress = tqdm(total=total, desc=source.name, unit='frame')
        try:
            for data, clip_slots in self.preprocess(source, batch_size, fps,
                                                    samples, sampler_out):
                preds = self.forward(data)
                slots = [slot for clip in clip_slots for slot in clip]
                for slot, pred in zip(slots, preds):
                    if slot < 0:
                        num_padded += 1
                    else:
                        pending[slot] = pred
                # Clips interleave samples: emit in time order.
                while len(outputs['masks']) in pending:
                    index = len(outputs['masks'])
                    pred = pending.pop(index)
                    frame_size = samples[index].shape
                    mask, score = self._to_frame_size(pred, frame_size)
                    outputs['masks'].append(mask)
                    outputs['scores'].append(score)
                    if return_datasamples:
                        outputs['data_samples'].append(pred.cpu())
                    if progress is not None:
                        progress.update(1)
        finally:
            if progress is not None:
                progress.close()
        sampler = sampler_out[0]
        if pending:  # cannot happen: every sample is in exactly one clip
            raise RuntimeError(f'{len(pending)} predictions were not emitted')
        duration = sampler.duration
        if duration is not None and duration < MIN_DURATION:
            raise VideoReadError(
                f'{source.label}: the video is {duration:.2f} s long, '
                f'shorter than one {MIN_DURATION:.2f} s audio window')
        if source.audio is not None and duration is not None and \
                source.audio.end < duration - 0.5:
            warnings.warn(f'{source.label}: the sound ends at '
                          f'{source.audio.end:.2f} s, the video at '
                          f'{duration:.2f} s; later frames hear silence')
        silent = bool(
            source.audio is not None
            and np.abs(source.audio.samples).max() < SILENCE_PEAK)
        if silent:
            warnings.warn(f'{source.label}: the sound track is silent; a '
                          'model that listens finds little or nothing to '
                          'segment')
        ordered = [samples[index] for index in range(len(samples))]
        preds = dict(
            name=source.name,
            source=source.source,
            masks=outputs['masks'],
            scores=outputs['scores'],
            samples=ordered,
            data_samples=outputs['data_samples'],
            frame_size=frame_size or (0, 0),
            duration=duration,
            frame_rate=source.frame_rate,
            num_video_frames=sampler.num_frames,
            fps=fps,
            num_padded=num_padded,
            audio_silent=silent)
        return self.postprocess(preds, None, return_datasamples)

    # ------------------------------------------------------------------
    # Outputs
    # ------------------------------------------------------------------
    def _write_outputs(self, source: _Source, result: dict, folder: str,
                       save_masks: bool, save_overlay: bool,
                       save_summary: bool, opacity: float) -> dict:
        """Write the mask PNGs, the overlay video and the JSON summary."""
        os.makedirs(folder, exist_ok=True)
        files: Dict[str, Any] = dict(dir=folder)
        if save_masks:
            mask_dir = osp.join(folder, 'masks')
            os.makedirs(mask_dir, exist_ok=True)
            files['masks'] = [
                self._write_mask(osp.join(mask_dir, f'{k:06d}.png'), mask)
                for k, mask in enumerate(result['masks'])
            ]
        if save_overlay and len(result['masks']):
            files['overlay'] = self._write_overlay(
                source, result, osp.join(folder, 'overlay.mp4'), opacity)
        if save_summary:
            files['summary'] = osp.join(folder, 'summary.json')
            summary = dict(result['summary'])
            if 'masks' in files:
                for entry, path in zip(summary['frames'], files['masks']):
                    entry['mask_file'] = osp.relpath(path, folder)
            with open(files['summary'], 'w') as file:
                json.dump(summary, file, indent=1)
        return files

    def _write_mask(self, path: str, mask: np.ndarray) -> str:
        """A 0/255 PNG (binary) or a palette-coloured RGB PNG (classes):
        the ground-truth formats of AVSBench S4/MS3 and AVSS."""
        if self.model.out_channels == 1:
            image = mask * np.uint8(255)
        else:
            palette = np.asarray(self.dataset_meta['palette'], np.uint8)
            image = palette[np.minimum(mask, len(palette) - 1)][..., ::-1]
        if not cv2.imwrite(path, image):
            raise OSError(f'{path}: cannot write the mask')
        return path

    def _write_overlay(self, source: _Source, result: dict, path: str,
                       opacity: float) -> str:
        """Every frame of the input with its window's mask, plus sound.

        A second decoding pass: frames that were not sampled (``fps`` below
        the frame rate) show the mask of the window they fall in, so the
        overlay has the input's frames, timing and duration.
        """
        masks, fps = result['masks'], result['fps']
        last = len(masks) - 1

        def frames():
            for frame in source.frames():
                if fps == 'all':
                    k = min(frame.index, last)
                else:
                    k = min(max(int(np.floor(frame.time * fps)), 0), last)
                yield self.visualize([frame.image], [masks[k]],
                                     opacity)[0], frame.time

        return write_video(path, frames(), result['frame_rate'] or 25.0,
                           source.audio)


def summarize(result: dict) -> dict:
    """A JSON-ready summary: how much of the picture sounds, when.

    Args:
        result (dict): A result of :class:`AVSInferencer` (``masks``
            [N, H, W], ``timestamps``, ``frame_indices``, ``classes``, ...).

    Returns:
        dict: ``name``, ``source``, ``duration``, ``frame_size``,
        ``frame_rate``, ``fps``, ``num_frames``, ``classes``,
        ``audio_silent``; ``per_second``: one entry per second that has
        sampled frames, ``{"second": k, "num_frames": n, "area": {class:
        fraction}}`` with the mean fraction of the frame covered by each
        sounding (non-background) class over the frames of
        ``[k, k + 1)`` s (classes with zero area left out); ``frames``: per
        sampled frame its ``frame_index``, ``time`` and ``area``.
    """
    classes = list(result['classes'])
    masks = result['masks']
    num_classes = max(len(classes), int(masks.max()) + 1 if masks.size else 0)
    names = classes + [f'class_{i}' for i in range(len(classes), num_classes)]
    frames, per_second = [], {}
    for mask, time, index in zip(masks, result['timestamps'],
                                 result['frame_indices']):
        counts = np.bincount(mask.ravel(), minlength=num_classes)
        fractions = counts / float(max(mask.size, 1))
        area = {
            names[c]: round(float(fractions[c]), 6)
            for c in range(1, num_classes) if counts[c]
        }
        frames.append(
            dict(
                frame_index=int(index), time=round(float(time), 6), area=area))
        per_second.setdefault(int(np.floor(time)), []).append(fractions)
    seconds = []
    for second in sorted(per_second):
        mean = np.mean(per_second[second], axis=0)
        seconds.append(
            dict(
                second=second,
                num_frames=len(per_second[second]),
                area={
                    names[c]: round(float(mean[c]), 6)
                    for c in range(1, num_classes) if mean[c] > 0
                }))
    fps = result['fps']
    return dict(
        name=result['name'],
        source=result['source'],
        duration=None if result['duration'] is None else round(
            float(result['duration']), 6),
        frame_size=list(result['frame_size']),
        frame_rate=None if result['frame_rate'] is None else round(
            float(result['frame_rate']), 6),
        fps=fps,
        num_frames=int(len(masks)),
        classes=classes,
        audio_silent=bool(result['audio_silent']),
        per_second=seconds,
        frames=frames)
