# Copyright (c) mmavs contributors. All rights reserved.
"""One input, segmented frame by frame: :class:`FrameStream`.

.. code:: text

    reader thread     decode -> FrameSampler -> test pipeline per frame
                      + audio windows -> ClipBatcher        (ClipBatch)
    caller's thread   model.test_step -> InOrder -> masks at frame size
                      -> SegmentedFrame, yielded            (and shown)
    mask writer       mask PNGs, overlay PNGs, summary entries
    overlay writer    decode again -> paint -> encode with the sound

Every queue between the threads is bounded, so memory is set by the
batch, the clip window and the codecs, not by the video's length.
"""
import time
from typing import Any, Dict, Iterator, Optional

import cv2
import numpy as np

from mmavs.datasets.audio import SILENCE_PEAK
from mmavs.visualization import MaskPainter
from .batching import QUICK_START_CLIPS, InOrder
from .outputs import OutputOptions, SegmentedFrame
from .sampling import FrameSampler, Rate
from .sources import InputSource, check_min_duration
from .threads import BackgroundIterator
from .writers import InputWriter

#: The window ``show=True`` draws in.
WINDOW_NAME = 'mmavs'
#: A forward pass of one frame that takes this long (s) costs what the
#: frame costs inside a clip (batching amortises only per-call overhead):
#: frame-independent models then get one-frame clips, so that masks, and
#: the overlay behind them, come one by one instead of a clip at a time.
SINGLE_FRAME_SECONDS = 0.2


class FrameStream:
    """The segmented frames of one input, as they are made.

    Iterate it once: each :class:`~.outputs.SegmentedFrame` comes as soon
    as the model has made it, and the input's files are written alongside
    (see :mod:`.writers`). Afterwards (also after an error or an early
    stop) :attr:`result` holds what the run found and wrote. Made by
    :meth:`AVSInferencer.iter_frames`.

    Args:
        inferencer (AVSInferencer): Runs the model.
        source (InputSource): The input.
        fps (float | str): Frames per second to segment, or ``'all'``.
        batch_size (int): Clips per forward pass.
        folder (str, optional): The input's output folder.
        options (OutputOptions): What to write and show.
        opacity (float): Mask opacity in overlays.
        return_datasamples (bool): Keep the model's ``SegDataSample`` in
            each frame.
        keep_summary_frames (bool): Keep the summary's per-frame entries
            in :attr:`result`.

    Attributes:
        result (dict): Filled when the iteration ends: ``name``, ``source``,
            ``frame_size``, ``duration``, ``frame_rate``,
            ``num_video_frames``, ``fps``, ``num_frames`` (segmented),
            ``num_frames_per_clip``, ``num_padded``, ``audio_silent``,
            ``classes``, ``summary``, ``complete``, ``out_files`` (with an
            output folder) and ``timing`` (seconds: ``wall``,
            ``first_frame`` after the start, ``read`` (decoding, sampling,
            resizing and audio for the model, in the reader thread),
            ``model``, ``masks``, ``overlay_decode``, ``overlay_draw``,
            ``overlay_encode``, each in its own thread; ``first_frame_at``,
            the wall-clock time of the first frame).
    """

    def __init__(self,
                 inferencer,
                 source: InputSource,
                 fps: Rate,
                 batch_size: int,
                 folder: Optional[str],
                 options: OutputOptions,
                 opacity: float = 0.5,
                 return_datasamples: bool = False,
                 keep_summary_frames: bool = False) -> None:
        self.inferencer = inferencer
        self.source = source
        self.fps = fps
        self.batch_size = batch_size
        self.folder = folder
        self.options = options
        self.opacity = opacity
        self.return_datasamples = return_datasamples
        self.keep_summary_frames = keep_summary_frames
        self.result: Dict[str, Any] = {}
        self._started = False
        self._batchers: list = []
        self._decided = False
        self._passes = 0

    def _batches(self, sampler: FrameSampler, keep_images: bool):
        return self.inferencer.preprocess(
            self.source, sampler, self.batch_size,
            audio_of=self.source.audio_reader(), keep_images=keep_images,
            on_batcher=self._batchers.append, adaptive=True)

    def _after_forward(self, batch, seconds: float) -> None:
        """After the quick start's second (warm) one-frame pass, tell the
        batcher how long clips are to be: one frame for a model that slow
        (see :data:`SINGLE_FRAME_SECONDS`), else the config's."""
        self._passes += 1
        if not self._batchers or self._decided or \
                self._passes < QUICK_START_CLIPS:
            return
        self._decided = True
        frames = sum(1 for clip in batch.slots for slot in clip)
        batcher = self._batchers[0]
        batcher.decide(batcher.quick_start and frames == 1
                       and seconds >= SINGLE_FRAME_SECONDS)

    def __iter__(self) -> Iterator[SegmentedFrame]:
        if self._started:
            raise RuntimeError('a FrameStream is iterated once; call '
                               'iter_frames again for another pass')
        self._started = True
        inferencer, source = self.inferencer, self.source
        start = time.perf_counter()
        timing = dict(read=0.0, model=0.0)
        source.check_declared_lengths()
        sampler = FrameSampler(source.frames(), self.fps, source.frame_rate,
                               source.label)
        writes = self.folder is not None
        own = self.options.needs_own_overlays(writes)
        meta = inferencer.dataset_meta
        stride = inferencer.clip_stride(source, sampler.fps)
        writer = InputWriter(
            self.folder, source, self.options, meta['classes'],
            meta['palette'], inferencer.binary, sampler.fps, self.opacity,
            board_size=2 * self.batch_size * inferencer.num_frames +
            stride * inferencer.num_frames,
            keep_summary_frames=self.keep_summary_frames)
        reader = BackgroundIterator(
            lambda: self._timed(self._batches(sampler, own), timing))
        in_order = InOrder()
        samples: Dict[int, Any] = {}
        progress = self._progress(sampler.fps)
        error: Optional[BaseException] = None
        count = 0
        try:
            for batch in reader:
                tick = time.perf_counter()
                preds = inferencer.forward(batch.data)
                self._after_forward(batch, time.perf_counter() - tick)
                samples.update(batch.samples)
                released = list(in_order.put(batch, preds))
                timing['model'] += time.perf_counter() - tick
                for index, pred in released:
                    tick = time.perf_counter()
                    frame = self._frame(index, samples.pop(index), pred, own)
                    timing['model'] += time.perf_counter() - tick
                    writer.add(frame)
                    if count == 0:
                        timing['first_frame'] = time.perf_counter() - start
                        timing['first_frame_at'] = time.time()
                    count += 1
                    progress.update(1)
                    yield frame
            in_order.check_complete()
            check_min_duration(source.label, 'video', sampler.duration)
        except BaseException as failure:  # the files say why they stop
            error = failure
            raise
        finally:
            progress.close()
            for batcher in self._batchers:
                batcher.decide(False)  # a reader waiting for it may stop
            reader.stop()
            facts = self._facts(sampler, in_order, count, error is None)
            try:
                files = writer.finish(facts, error)
            finally:
                timing.update(writer.timing,
                              wall=time.perf_counter() - start)
                self.result = facts
                self.result['timing'] = timing
            summary = files.pop('summary_dict')
            self.result.update(summary=summary,
                               complete=summary['complete'])
            if writes:
                self.result['out_files'] = files

    @staticmethod
    def _timed(items, timing: dict) -> Iterator:
        """The items, with the time spent making them added to
        ``timing['read']``."""
        items = iter(items)
        try:
            while True:
                tick = time.perf_counter()
                item = next(items, None)
                timing['read'] += time.perf_counter() - tick
                if item is None:
                    return
                yield item
        finally:
            items.close()

    def _frame(self, index: int, sample, pred, own: bool) -> SegmentedFrame:
        """A prediction at the frame size, its overlay when one is asked
        for, shown when asked."""
        mask, score = self.inferencer.to_frame(pred, sample.shape)
        visualization = None
        if own:
            palette = self.inferencer.dataset_meta['palette']
            painted = MaskPainter(mask, palette, self.opacity,
                                  'bgr').draw(sample.image)
            if self.options.show:
                cv2.imshow(WINDOW_NAME, painted)
                cv2.waitKey(int(self.options.wait_time * 1000))
            visualization = cv2.cvtColor(painted, cv2.COLOR_BGR2RGB)
        return SegmentedFrame(
            index=index,
            frame_index=sample.frame_index,
            time=sample.time,
            audio_centre=sample.centre,
            mask=mask,
            score=score,
            data_sample=pred.cpu() if self.return_datasamples else None,
            visualization=visualization)

    def _progress(self, fps: Rate):
        from tqdm import tqdm
        return tqdm(
            total=self.source.expected_samples(fps),
            desc=self.source.name,
            unit='frame',
            disable=not self.options.progress)

    def _facts(self, sampler: FrameSampler, in_order: InOrder, count: int,
               finished: bool) -> dict:
        """What the run found; the sound is judged only once the whole
        picture was read."""
        source = self.source
        silent = source.check_sound(sampler.duration) if finished else \
            bool(source.audio is not None
                 and source.audio.peak < SILENCE_PEAK)
        return dict(
            name=source.name,
            source=source.source,
            num_frames=count,
            num_frames_per_clip=self.inferencer.num_frames,
            num_padded=in_order.num_padded,
            frame_rate=source.frame_rate,
            audio_silent=silent,
            classes=tuple(self.inferencer.dataset_meta['classes']),
            **sampler.facts())


def stack(frames, attribute: str, frame_size, dtype) -> np.ndarray:
    """One attribute of segmented frames as an array [N, ...]; empty
    [0, H, W] when there are none."""
    if frames:
        return np.stack([getattr(frame, attribute) for frame in frames])
    return np.zeros((0, ) + tuple(frame_size), dtype)
