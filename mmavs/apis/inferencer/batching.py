# Copyright (c) mmavs contributors. All rights reserved.
"""Sampled frames -> clips of T frames -> batches, and predictions back
into time order.

The model sees clips of T frames (5 for S4/MS3 models, 10 for AVSS). A
model with a temporal module (one that mixes the frames of a clip, e.g.
TPAVI) gets frames about one second apart, as in training: with ``s``
samples per second, each block of ``s * T`` consecutive samples is dealt
into ``s`` clips (:func:`deal_clips`). A model that treats frames
independently (AVSegFormer) gets T consecutive samples per clip
(``stride=1``): its masks are the same either way and this needs the least
padding. At the end of the video (and for a video shorter than T seconds)
clips are padded as the AVSS release pads its 5-frame clips: black frames
whose audio repeats the clip's last real example, flagged
``frame_valid=False``; padded frames produce no output.
"""
import copy
import threading
from dataclasses import dataclass, field, replace
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Optional,
                    Tuple)

import numpy as np
from mmcv.transforms import Compose

#: Loading transforms of a test pipeline; the inferencer feeds frames and
#: audio from memory instead.
LOADING_TRANSFORMS = ('LoadAVSFrames', 'LoadAVSAnnotations', 'LoadAVSAudio')

#: One-frame clips a quick start sends first: the first pass is the first
#: mask; the second, warm (no one-time set-up in it), is timed to choose
#: the clips that follow (see :meth:`ClipBatcher.decide`).
QUICK_START_CLIPS = 2

#: Keys of a transformed frame's results that are not shared by its clip.
PER_FRAME_KEYS = ('imgs', 'seg_fields', 'num_frames', 'clip_name',
                  'frame_valid', 'ori_shape')


def split_test_pipeline(cfg) -> Tuple[Compose, Compose, Callable]:
    """A config's test pipeline without its file loaders, and its parts.

    Frames and audio come from memory, so ``LoadAVSFrames``,
    ``LoadAVSAudio`` and ``LoadAVSAnnotations`` are dropped; what is left
    must end with ``PackAVSInputs``. The transforms before it (e.g.
    ``ClipTransform(Resize)``) are also returned on their own: the
    inferencer runs them on each frame as it is decoded, so that only
    resized frames wait for their clip. Test pipelines are deterministic,
    so running them per frame gives the same frames as running them per
    clip.

    Args:
        cfg (Config): The config (``test_dataloader.dataset.pipeline`` or
            ``test_pipeline``).

    Returns:
        tuple: The pipeline for one clip, the per-frame transforms, and the
        packer.

    Raises:
        ValueError: No test pipeline, or it does not end with
            ``PackAVSInputs``.
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
    return (pipeline, Compose(pipeline.transforms[:-1]),
            pipeline.transforms[-1])


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


@dataclass
class ClipBatch:
    """A collated batch of clips and where their frames come from.

    Attributes:
        data (dict): The collated batch for ``model.test_step``.
        slots (list[list[int]]): Per clip, the sample index of each of its
            T frames (-1 for padding).
        samples (dict[int, Any]): The :class:`~.sampling.FrameSample` of
            each sample index of the batch; their ``image`` (the decoded
            frame) only when the batcher keeps images (to draw a sample's
            own overlay), else None.
    """

    data: dict
    slots: List[List[int]]
    samples: Dict[int, Any] = field(default_factory=dict)


class ClipBatcher:
    """Gather transformed frames and audio examples into clips and batches.

    Args:
        num_frames (int): Frames per clip T.
        stride (int): Samples per second dealt into separate clips (1 for
            models that treat frames independently); see
            :func:`deal_clips`.
        batch_size (int): Clips per batch.
        pack (Callable[[dict], dict]): Packs one clip's results (the test
            pipeline's ``PackAVSInputs``).
        collate (Callable[[list], dict]): Collates packed clips.
        clip_meta (dict): Keys every clip's results start from (the
            transformed frame's ``img_shape``, ``scale_factor``, ...).
        black (np.ndarray): The transformed black frame that pads clips.
        name (str): The input's name (``clip_name`` of its clips).
        keep_images (bool): Hand each sample's decoded frame to its batch
            (in :attr:`ClipBatch.samples`). Defaults to False.
        quick_start (bool): Send the first samples alone
            (:data:`QUICK_START_CLIPS` one-frame clips), so that the first
            mask comes after one frame's forward pass instead of a whole
            batch's. Only for models that treat frames independently
            (``stride=1``), whose masks do not depend on the clips.
            Defaults to False.
        adaptive (bool): With ``quick_start``, deal no further clip until
            :meth:`decide` says how long clips are to be (the caller times
            the one-frame pass). Defaults to False.
    """

    def __init__(self, num_frames: int, stride: int, batch_size: int,
                 pack: Callable[[dict], dict], collate: Callable[[list],
                                                                 dict],
                 clip_meta: dict, black: np.ndarray, name: str,
                 keep_images: bool = False,
                 quick_start: bool = False,
                 adaptive: bool = False) -> None:
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        if quick_start and stride != 1:
            raise ValueError('quick_start needs stride=1: models that mix '
                             'the frames of a clip need whole clips')
        self.quick_start = quick_start
        self._decided = threading.Event()
        if not (quick_start and adaptive):
            self._decided.set()
        self.num_frames = num_frames
        self.stride = stride
        self.batch_size = batch_size
        self.pack = pack
        self.collate = collate
        self.clip_meta = dict(clip_meta)
        self.black = black
        self.name = name
        self.keep_images = keep_images
        self.num_clips = 0
        self._block: List[Tuple[int, np.ndarray, np.ndarray]] = []
        self._clips: List[Tuple[dict, List[int]]] = []
        self._samples: Dict[int, Any] = {}

    def add(self,
            index: int,
            image: np.ndarray,
            example: np.ndarray,
            sample: Optional[Any] = None) -> Iterator[ClipBatch]:
        """Add one sample; yields the batches it completes.

        Args:
            index (int): The sample's index.
            image (np.ndarray): The transformed frame.
            example (np.ndarray): Its audio, float32 [1, 96, 64] (or a
                feature vector).
            sample (FrameSample, optional): The sample, handed to its batch
                (its decoded frame only when ``keep_images``).

        Yields:
            ClipBatch: Every batch that is now full.
        """
        if sample is not None:
            self._samples[index] = sample if self.keep_images else \
                replace(sample, image=None)
        self._block.append((index, image, example))
        if self.quick_start and self.num_clips < QUICK_START_CLIPS:
            self._deal(num_frames=1)
            yield from self._batches(final=True)
        elif len(self._block) >= self.stride * self.num_frames:
            self._decided.wait()
            self._deal()
            yield from self._batches(final=False)

    def decide(self, single_frames: bool) -> None:
        """Set the length of the clips after the quick start, and let the
        batcher go on. Called from the model's thread.

        Args:
            single_frames (bool): Clips of one frame from now on: for a
                model that treats frames independently and is heavy enough
                that a one-frame pass costs what a frame costs in a clip;
                masks then come one by one, not a clip at a time.

        Raises:
            ValueError: One-frame clips for a model that mixes the frames
                of a clip (``stride > 1``).
        """
        if single_frames:
            if self.stride != 1:
                raise ValueError('one-frame clips need stride=1: models '
                                 'that mix the frames of a clip need whole '
                                 'clips')
            self.num_frames = 1
        self._decided.set()

    def finish(self) -> Iterator[ClipBatch]:
        """Pad and batch what is left.

        Yields:
            ClipBatch: The last batches (the last one may be smaller).
        """
        if self._block:
            self._decided.wait()
            self._deal()
        yield from self._batches(final=True)

    def _deal(self, num_frames: Optional[int] = None) -> None:
        block = self._block
        num_frames = num_frames or self.num_frames
        for positions in deal_clips(len(block), self.stride, num_frames):
            real = [block[p] for p in positions if p >= 0]
            pad = num_frames - len(real)
            results = dict(self.clip_meta)
            results.update(
                imgs=[entry[1] for entry in real] + [self.black] * pad,
                audio=np.stack([entry[2] for entry in real] +
                               [real[-1][2]] * pad),
                ori_shape=results['img_shape'],
                num_frames=num_frames,
                clip_name=self.name,
                sample_idx=self.num_clips,
                frame_valid=[1] * len(real) + [0] * pad)
            self.num_clips += 1
            self._clips.append(
                (self.pack(results), [entry[0]
                                      for entry in real] + [-1] * pad))
        self._block = []

    def _batches(self, final: bool) -> Iterator[ClipBatch]:
        while len(self._clips) >= self.batch_size or (final and self._clips):
            chunk = self._clips[:self.batch_size]
            del self._clips[:self.batch_size]
            slots = [slots for _, slots in chunk]
            samples = {
                slot: self._samples.pop(slot)
                for clip in slots for slot in clip if slot in self._samples
            }
            yield ClipBatch(
                self.collate([packed for packed, _ in chunk]), slots, samples)


def transform_frame(frame_pipeline: Callable[[dict], dict], image: np.ndarray,
                    name: str) -> dict:
    """Run the per-frame transforms of a test pipeline on one frame.

    Args:
        frame_pipeline (Callable[[dict], dict]): The transforms before
            ``PackAVSInputs`` (see :func:`split_test_pipeline`).
        image (np.ndarray): uint8 [H, W, 3] BGR frame.
        name (str): The input's name.

    Returns:
        dict: The results of a one-frame clip (``imgs`` holds the frame).

    Raises:
        ValueError: The pipeline dropped the frame.
    """
    shape = image.shape[:2]
    results = frame_pipeline(
        dict(
            imgs=[image],
            img_shape=shape,
            ori_shape=shape,
            num_frames=1,
            clip_name=name,
            frame_valid=[1]))
    if results is None:
        raise ValueError('The test pipeline dropped a frame; test '
                         'pipelines must keep every frame')
    return results


def batch_samples(samples: Iterable[Any],
                  audio_of: Callable[[Any], np.ndarray],
                  frame_pipeline: Callable[[dict], dict],
                  name: str,
                  keep_images: bool = False,
                  on_batcher: Optional[Callable[[ClipBatcher], None]] = None,
                  **batcher_args) -> Iterator[ClipBatch]:
    """Transform frames as they are sampled and yield batches of clips.

    Only transformed (e.g. resized) frames wait for their clip, so memory
    holds a block of small frames, not the video.

    Args:
        samples (Iterable[FrameSample]): Sampled frames (``index``,
            ``image``), in order.
        audio_of (Callable): A sample's audio example, float32 [1, 96, 64]
            (or a feature vector).
        frame_pipeline (Callable[[dict], dict]): See
            :func:`transform_frame`.
        name (str): The input's name.
        keep_images (bool): Hand the decoded frames to the batches (see
            :attr:`ClipBatch.samples`). Defaults to False.
        on_batcher (Callable, optional): Called with the
            :class:`ClipBatcher` once it is made (to change its clips
            later, see :meth:`ClipBatcher.decide`).
        **batcher_args: ``num_frames``, ``stride``, ``batch_size``,
            ``pack``, ``collate``, ``quick_start`` and ``adaptive`` of
            :class:`ClipBatcher`.

    Yields:
        ClipBatch: Full batches, then the padded last ones.
    """
    batcher = None
    for sample in samples:
        transformed = transform_frame(frame_pipeline, sample.image, name)
        if batcher is None:
            # The first frame fixes what every clip shares (its size after
            # the pipeline) and the black frame that pads short clips.
            black = transform_frame(frame_pipeline,
                                    np.zeros_like(sample.image), name)
            batcher = ClipBatcher(
                clip_meta={
                    key: value
                    for key, value in transformed.items()
                    if key not in PER_FRAME_KEYS
                },
                black=black['imgs'][0],
                name=name,
                keep_images=keep_images,
                **batcher_args)
            if on_batcher is not None:
                on_batcher(batcher)
        yield from batcher.add(sample.index, transformed['imgs'][0],
                               audio_of(sample), sample)
    if batcher is not None:
        yield from batcher.finish()


class InOrder:
    """Hand back per-frame predictions in sample order.

    Clips interleave samples (temporal models), so the predictions of a
    batch may arrive ahead of earlier samples; they wait here until every
    earlier one has arrived. Padding predictions are counted and dropped.
    """

    def __init__(self) -> None:
        self.next_index = 0
        self.num_padded = 0
        self._pending: Dict[int, Any] = {}

    def put(self, batch: ClipBatch, preds: List[Any]) -> Iterator[Tuple[int,
                                                                        Any]]:
        """Take a batch's predictions; yield those now in order.

        Args:
            batch (ClipBatch): The batch.
            preds (list): Its B*T frame predictions, clip major.

        Yields:
            tuple[int, Any]: (sample index, prediction), in sample order.
        """
        slots = [slot for clip in batch.slots for slot in clip]
        for slot, pred in zip(slots, preds):
            if slot < 0:
                self.num_padded += 1
            else:
                self._pending[slot] = pred
        while self.next_index in self._pending:
            yield self.next_index, self._pending.pop(self.next_index)
            self.next_index += 1

    def check_complete(self) -> None:
        """Raise if some prediction never got its turn.

        Raises:
            RuntimeError: Predictions are still waiting (a sample index
                was skipped: a bug, not bad input).
        """
        if self._pending:
            raise RuntimeError(
                f'{len(self._pending)} predictions were not emitted')


def pipeline_size(cfg) -> Tuple[int, int]:
    """(H, W) of the frames the config's test pipeline makes of a frame of
    any size (shipped pipelines resize to a fixed size).

    Args:
        cfg (Config): The config.

    Returns:
        tuple[int, int]: (H, W).
    """
    _, frame_pipeline, _ = split_test_pipeline(cfg)
    probe = transform_frame(frame_pipeline, np.zeros((37, 53, 3), np.uint8),
                            'probe')
    return tuple(int(s) for s in probe['imgs'][0].shape[:2])
