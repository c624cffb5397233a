# Copyright (c) mmavs contributors. All rights reserved.
"""Write an input's outputs while it is segmented.

:class:`InputWriter` gets each segmented frame from the model's thread and
writes, beside it, in two threads:

- the mask PNGs, the overlays of the segmented frames (``img_out_dir``)
  and the summary's entries (``mask writer``);
- the overlay video (``overlay writer``): it decodes the input a second
  time, draws on every frame the mask of the window the frame falls in
  (``fps='all'``: its own mask) and encodes it with the input's sound
  (:class:`~mmavs.datasets.video_writer.VideoWriter`).

Nothing waits for the end of the video: masks are written when they are
made and the overlay follows a few frames behind. When a run stops early
(an error, Ctrl-C, the caller stops iterating) :meth:`InputWriter.finish`
still leaves valid files for what was done: the masks so far, an overlay
playable up to that point and a summary marked ``"complete": false`` with
the reason.
"""
import os
import os.path as osp
import time
from typing import Any, Dict, Optional, Sequence

import cv2
import mmcv

from mmavs.datasets.errors import VideoReadError
from mmavs.datasets.video_writer import VideoWriter
from mmavs.visualization import MaskPainter
from .outputs import (OutputOptions, SegmentedFrame, SummaryBuilder,
                      mask_image)
from .sampling import window_of
from .sources import InputSource
from .threads import ItemWorker, MaskBoard, StopRequested, Worker

#: Name of the overlay video in an input's folder.
OVERLAY_FILE = 'overlay.mp4'
#: Name of the summary in an input's folder.
SUMMARY_FILE = 'summary.json'


def write_image(path: str, image, what: str) -> str:
    """Write an image, creating its folder.

    Raises:
        OSError: It cannot be written; the message names the file.
    """
    if not mmcv.imwrite(image, path):
        raise OSError(f'{path}: cannot write the {what} (is the disk full, '
                      'or the folder read-only?)')
    return path


class InputWriter:
    """Writes one input's files as its frames are segmented.

    Args:
        folder (str, optional): The input's output folder; None writes no
            file.
        source (InputSource): The input (decoded again for the overlay).
        options (OutputOptions): What to write.
        classes (Sequence[str]): Class names, for the summary.
        palette (Sequence[Sequence[int]]): RGB colour per class, to draw.
        binary (bool): Masks are 0/1 (written as 0/255 PNGs) rather than
            class ids (written in the palette's colours).
        fps (float | str): The sampling rate (which frames a mask covers).
        opacity (float): Mask opacity in the overlay.
        board_size (int): Masks the overlay writer may fall behind by.
        keep_summary_frames (bool): Keep the summary's per-frame entries
            in memory too (see :class:`SummaryBuilder`).
    """

    def __init__(self,
                 folder: Optional[str],
                 source: InputSource,
                 options: OutputOptions,
                 classes: Sequence[str],
                 palette: Sequence[Sequence[int]],
                 binary: bool,
                 fps,
                 opacity: float = 0.5,
                 board_size: int = 16,
                 keep_summary_frames: bool = False) -> None:
        self.folder = folder
        self.source = source
        self.options = options
        self.palette = palette
        self.binary = binary
        self.fps = fps
        self.opacity = opacity
        self.timing = dict(masks=0.0, overlay_decode=0.0, overlay_draw=0.0,
                           overlay_encode=0.0)
        self.num_masks = 0
        self.num_images = 0
        self.overlay_frames = 0
        self._overlay_path = None
        writes = folder is not None
        if writes:
            os.makedirs(folder, exist_ok=True)
        self.summary = SummaryBuilder(
            classes,
            osp.join(folder, f'.{SUMMARY_FILE}.frames') if writes
            and options.save_summary else None,
            keep_frames=keep_summary_frames)
        self._board: Optional[MaskBoard] = None
        self._overlay: Optional[Worker] = None
        if writes and options.save_overlay:
            self._overlay_path = osp.join(folder, OVERLAY_FILE)
            self._board = MaskBoard(board_size)
            self._overlay = Worker(self._write_overlay, 'mmavs-overlay')
        self._masks = ItemWorker(self._write_frame, 8, 'mmavs-masks')

    # ------------------------------------------------------------------
    # The model's side
    # ------------------------------------------------------------------
    def add(self, frame: SegmentedFrame) -> None:
        """Hand over a segmented frame (in order).

        Raises:
            OSError: A file could not be written (by this or an earlier
                frame); the message names it.
            VideoReadError: The overlay writer could not decode the input.
        """
        if self._overlay is not None:
            if self._overlay.error is not None:
                raise self._overlay.error
            try:
                self._board.put(frame.mask)
            except StopRequested:
                self._overlay.join()  # raises the overlay writer's error
                raise
        self._masks.put(frame)

    # ------------------------------------------------------------------
    # The mask writer
    # ------------------------------------------------------------------
    def _write_frame(self, frame: SegmentedFrame) -> None:
        start = time.perf_counter()
        mask_file = None
        options = self.options
        if self.folder is not None and options.pred_out_dir:
            mask_file = osp.join(options.pred_out_dir,
                                 f'{frame.index:06d}.png')
            write_image(
                osp.join(self.folder, mask_file),
                mask_image(frame.mask, None if self.binary else self.palette),
                'mask')
            self.num_masks += 1
        if self.folder is not None and options.img_out_dir and \
                frame.visualization is not None:
            write_image(
                osp.join(self.folder, options.img_out_dir,
                         f'{frame.index:06d}.png'),
                cv2.cvtColor(frame.visualization, cv2.COLOR_RGB2BGR),
                'overlay image')
            self.num_images += 1
        self.summary.add(frame.mask, frame.time, frame.frame_index,
                         mask_file)
        self.timing['masks'] += time.perf_counter() - start

    # ------------------------------------------------------------------
    # The overlay writer
    # ------------------------------------------------------------------
    def _write_overlay(self) -> None:
        board, writer = self._board, None
        painters: Dict[int, MaskPainter] = {}
        frames = self.source.frames()
        complete, failed = False, False
        try:
            while True:
                start = time.perf_counter()
                frame = next(frames, None)
                self.timing['overlay_decode'] += time.perf_counter() - start
                if frame is None:
                    complete = True
                    break
                window = frame.index if self.fps == 'all' else window_of(
                    frame.time, self.fps)
                got = board.get(window)
                if got is None:  # the run stopped
                    break
                index, mask = got
                board.release(index)
                start = time.perf_counter()
                painter = painters.get(index)
                if painter is None:
                    painters.clear()
                    painter = painters[index] = MaskPainter(
                        mask, self.palette, self.opacity, 'bgr')
                if frame.image.shape[:2] != painter.shape:
                    raise VideoReadError(
                        f'{self.source.label}: the frame size changes from '
                        f'{painter.shape} to {frame.image.shape[:2]} (H, W) '
                        f'at frame {frame.index}; a video must keep one size')
                image = painter.draw(frame.image)
                now = time.perf_counter()
                self.timing['overlay_draw'] += now - start
                if writer is None:
                    writer = VideoWriter(
                        self._overlay_path, self.source.frame_rate or 25.0,
                        self.source.audio, channel_order='bgr', threads=1,
                        preset=self.options.overlay_preset)
                self._encode(writer.write, image, frame.time)
                self.timing['overlay_encode'] += time.perf_counter() - now
                self.overlay_frames += 1
        except BaseException:
            failed = True
            board.abort()  # the model's side must not wait for us
            raise
        finally:
            close = getattr(frames, 'close', None)
            if close is not None:
                close()
            if writer is not None and not failed:
                self._encode(writer.close, complete)
            elif writer is not None:
                try:  # what was written stays playable
                    writer.close(complete=False)
                except Exception:  # the first error is the one to report
                    pass

    def _encode(self, call, *args) -> Any:
        try:
            return call(*args)
        except OSError as error:
            if self._overlay_path in str(error):
                raise
            raise OSError(f'{self._overlay_path}: cannot write the overlay '
                          f'video ({error})') from error

    # ------------------------------------------------------------------
    # The end
    # ------------------------------------------------------------------
    def finish(self, facts: dict,
               error: Optional[BaseException] = None) -> Dict[str, Any]:
        """Finish the files: all of them, or, after ``error``, what was
        done so far.

        Args:
            facts (dict): The input's facts (see
                :meth:`SummaryBuilder.summary`).
            error (BaseException, optional): Why the run stopped early.

        Returns:
            dict: ``dir``, and what was written: ``masks`` (the folder) and
            ``num_masks``, ``images`` and ``num_images``, ``overlay``,
            ``summary``; plus ``summary_dict``, the summary itself.

        Raises:
            OSError, VideoReadError: A writer failed (when nothing else
                did before: a first error is never hidden by a later one).
        """
        failures = []
        if self._board is not None:
            if error is None:
                self._board.finish()
            else:
                self._board.abort()
        for worker in (self._masks, self._overlay):
            if worker is None:
                continue
            try:
                if worker is self._masks:
                    worker.close()  # the masks so far are written
                else:
                    worker.join()
            except BaseException as failure:  # reported below
                failures.append(failure)
        problem = error if error is not None else (
            failures[0] if failures else None)
        complete = problem is None
        reason = None
        if isinstance(problem, GeneratorExit):
            reason = 'stopped by the caller'
        elif isinstance(problem, KeyboardInterrupt):
            reason = 'interrupted (Ctrl-C)'
        elif problem is not None:
            reason = f'{type(problem).__name__}: {problem}'
        summary = self.summary.summary(facts, complete, reason)
        files: Dict[str, Any] = dict(dir=self.folder, summary_dict=summary)
        if self.folder is not None:
            if self.num_masks:
                files['masks'] = osp.join(self.folder,
                                          self.options.pred_out_dir)
                files['num_masks'] = self.num_masks
            if self.num_images:
                files['images'] = osp.join(self.folder,
                                           self.options.img_out_dir)
                files['num_images'] = self.num_images
            if self._overlay_path and osp.exists(self._overlay_path):
                files['overlay'] = self._overlay_path
            if self.options.save_summary:
                try:
                    files['summary'] = self.summary.write(
                        osp.join(self.folder, SUMMARY_FILE), summary)
                except OSError as failure:
                    failures.append(failure)
        self.summary.discard()
        if failures and error is None:
            raise failures[0]
        return files
