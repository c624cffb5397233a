# Copyright (c) mmavs contributors. All rights reserved.
"""``M_J`` and ``M_F`` of AVSBench S4 / MS3."""
import logging
from collections import OrderedDict
from typing import Dict, List, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from prettytable import PrettyTable
from torch import Tensor

from mmseg.registry import METRICS
from ..functional import (BETA2, IOU_EPS, NUM_THRESHOLDS, binary_frame_stats,
                          binary_scores)
from .base_avs_metric import BaseAVSClipMetric, json_float


@METRICS.register_module()
class AVSBinaryMetric(BaseAVSClipMetric):
    """AVSBench S4 / MS3 metrics: ``M_J`` (mIoU) and ``M_F`` (F-score).

    Per labelled frame (``label_flag`` True and a GT that is not all
    ``ignore_index``):

    - ``M_J``: IoU of the hard mask ``prob > threshold`` with the GT; when the
      GT is empty, the fraction of the frame the prediction correctly leaves
      empty (the AVSBench empty-GT rule; see
      :func:`mmavs.evaluation.functional.binary_iou`).
    - ``M_F``: the F-measure curve (beta^2 = 0.3) over the 255 released
      thresholds; frames with an empty GT are left out of ``M_F`` (they still
      count in ``M_J``), as released.

    Two reductions are always computed and logged side by side:

    - ``'per_frame'``: ``M_J`` = mean IoU over all scored frames; ``M_F`` =
      max over thresholds of the F curve averaged over all non-empty-GT
      frames. Well defined and independent of any batch size.
    - ``'release'``: what the AVSBench / AVSegFormer test scripts print. They
      average within each test batch and then average the batch scores, so
      their ``M_F`` (and, through a shorter last batch, ``M_J``) depends on
      the test batch size. The scored frames are put in dataset order
      (``sample_idx``, ``frame_index``) and cut into consecutive chunks of
      ``release_batch_frames`` frames (the last chunk may be shorter, as the
      release's last batch); this does not depend on how mmengine's
      dataloader batches. AVSegFormer tests 2 clips of 5 frames (10 frames,
      the default); AVSBench 4 clips (20 frames). A chunk whose frames all
      have an empty GT scores ``M_F = 0`` and still counts in the average:
      the released ``Eval_Fmeasure`` then returns the max of its all-zero
      initial curve. On S4 / MS3 test every frame is labelled, so the chunks
      are exactly the release's batches; where some frames are unlabelled
      (S4 train), only the scored frames are chunked.

    Returned keys (percentages, not rounded):

    - ``M_J``, ``M_F``: per-frame mode. ``M_J`` is the suggested checkpoint
      key: it is batch-size independent and, when every release batch is
      full (true of the S4 and MS3 test sets with 10 or 20 frames per
      batch), equals the release's mIoU. mmengine cannot infer the rule
      from this name: use ``CheckpointHook(save_best='M_J',
      rule='greater')``.
    - ``M_J_release_b{b}``, ``M_F_release_b{b}``: release mode with
      ``b = release_batch_frames``.
    - ``mIoU``, ``F-score``: the mode chosen by ``mode`` (use
      ``mode='release'`` to compare with published tables).

    Inputs (per frame, as ``SegDataSample.to_dict()``): ``seg_logits.data``
    [1, H, W] holding probabilities (mmseg's ``postprocess_result`` applies
    the sigmoid for ``out_channels=1``), or [2, H, W] logits (softmax,
    channel 1 is foreground); ``gt_sem_seg.data`` [1, H, W] with 0/1 and
    ``ignore_index`` for pixels that do not count. Without ``seg_logits`` the
    hard ``pred_sem_seg`` stands in for the probabilities (then ``M_F``
    degenerates; a warning says so).

    Args:
        mode (str): ``'per_frame'`` (default) or ``'release'``: which
            reduction ``mIoU`` / ``F-score`` report.
        release_batch_frames (int): Test batch size, in frames, of the
            release to reproduce. Defaults to 10 (AVSegFormer).
        threshold (float): Hard-mask threshold on the probability for
            ``M_J`` (strict ``>``). Defaults to 0.5.
        num_thresholds (int): Thresholds of the F curve. Defaults to 255.
        beta2 (float): beta^2 of the F-measure. Defaults to 0.3.
        iou_eps (float): Added to each frame's union. Defaults to 1e-7.
        **kwargs: :class:`BaseAVSMetric` arguments: ``eval_size``,
            ``ignore_index``, ``output_dir``, ``keep_results`` (masks are
            0/255 PNGs), ``format_only``, ``collect_device``, ``prefix``.

    Examples:
        >>> metric = AVSBinaryMetric(mode='release', release_batch_frames=10)
        >>> # test_evaluator = dict(type='AVSBinaryMetric', mode='release')
    """

    MODES = ('per_frame', 'release')

    def __init__(self,
                 mode: str = 'per_frame',
                 release_batch_frames: int = 10,
                 threshold: float = 0.5,
                 num_thresholds: int = NUM_THRESHOLDS,
                 beta2: float = BETA2,
                 iou_eps: float = IOU_EPS,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if mode not in self.MODES:
            raise ValueError(f'mode must be one of {self.MODES}, got {mode!r}')
        if int(release_batch_frames) < 1:
            raise ValueError('release_batch_frames must be >= 1, got '
                             f'{release_batch_frames}')
        self.mode = mode
        self.release_batch_frames = int(release_batch_frames)
        self.threshold = threshold
        self.num_thresholds = num_thresholds
        self.beta2 = beta2
        self.iou_eps = iou_eps
        self._warned_no_logits = False

    @property
    def release_suffix(self) -> str:
        """Suffix of the release-mode keys, e.g. ``'_release_b10'``."""
        return f'_release_b{self.release_batch_frames}'

    def _prob(self, frame: dict) -> Tensor:
        """Foreground probabilities [H, W] at the evaluation size."""
        logits = self._data(frame, 'seg_logits')
        if logits is not None:
            logits = torch.as_tensor(logits).float()
            if logits.dim() == 2:
                logits = logits[None]
            if logits.shape[0] == 1:
                prob = logits
            elif logits.shape[0] == 2:
                prob = logits.softmax(0)[1:]
            else:
                raise ValueError('AVSBinaryMetric expects seg_logits with 1 '
                                 f'or 2 channels, got {logits.shape[0]}')
        else:
            pred = self._data(frame, 'pred_sem_seg')
            if pred is None:
                raise KeyError('a frame has neither seg_logits nor '
                               'pred_sem_seg')
            if not self._warned_no_logits:
                print_log(
                    'AVSBinaryMetric: no seg_logits in the predictions; the '
                    'hard pred_sem_seg is used as probabilities, so M_F is '
                    'that of a binary mask',
                    logger='current',
                    level=logging.WARNING)
                self._warned_no_logits = True
            prob = torch.as_tensor(pred).float()
            if prob.dim() == 2:
                prob = prob[None]
            prob = (prob > 0).float()
        return self._resize_scores(prob)[0]

    def _process_clip(self, clip: dict) -> dict:
        frame_indices: List[int] = []
        ious, curves, empties = [], [], []
        for frame_index, frame in clip['frames']:
            if not bool(frame.get('frame_valid', True)):
                continue
            prob = self._prob(frame)
            self._save_mask(clip['clip_name'], frame_index,
                            ((prob > self.threshold).cpu().numpy() *
                             255).astype(np.uint8))
            if self.format_only or not bool(frame.get('label_flag', True)):
                continue
            gt = self._gt(frame)
            if gt is None:
                continue
            gt = gt.to(prob.device)
            valid = gt != self.ignore_index
            if not bool(valid.any()):
                continue
            self._check_shapes(prob, gt)
            stats = binary_frame_stats(
                prob, (gt != 0) & valid,
                valid,
                threshold=self.threshold,
                num_thresholds=self.num_thresholds,
                beta2=self.beta2,
                eps=self.iou_eps)
            frame_indices.append(frame_index)
            ious.append(stats['iou'])
            curves.append(stats['f_curve'])
            empties.append(stats['empty_gt'])
        return dict(
            frame_index=np.asarray(frame_indices, dtype=np.int64),
            iou=np.concatenate(ious) if ious else np.zeros(0),
            f_curve=np.concatenate(curves) if curves else np.zeros(
                (0, self.num_thresholds)),
            empty_gt=np.concatenate(empties) if empties else np.zeros(
                0, dtype=bool))

    def _merge_clip_results(self, first: dict, second: dict) -> dict:
        merged = dict(first)
        for key in ('frame_index', 'iou', 'f_curve', 'empty_gt'):
            merged[key] = np.concatenate([first[key], second[key]])
        return merged

    @staticmethod
    def _frames_in_order(results: Sequence[dict]) -> Tuple[np.ndarray, ...]:
        """Concatenate per-frame stats in (sample_idx, frame_index) order."""
        ious, curves, empties = [], [], []
        for result in BaseAVSClipMetric._ordered(results):
            order = np.argsort(result['frame_index'], kind='stable')
            ious.append(result['iou'][order])
            curves.append(result['f_curve'][order])
            empties.append(result['empty_gt'][order])
        return (np.concatenate(ious), np.concatenate(curves),
                np.concatenate(empties))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Reduce the per-clip results to ``M_J`` / ``M_F`` in both modes.

        Args:
            results (list[dict]): One dict per clip, gathered over ranks:
                ``frame_index`` [n], ``iou`` [n], ``f_curve`` [n, 255],
                ``empty_gt`` [n] for its n scored frames.

        Returns:
            dict[str, float]: ``mIoU``, ``F-score`` (the configured mode),
            ``M_J``, ``M_F`` (per-frame mode), ``M_J_release_b{b}``,
            ``M_F_release_b{b}`` (release mode); percentages.
        """
        if self.format_only:
            print_log(
                f'predicted masks written to {self.output_dir}',
                logger='current')
            return OrderedDict()
        if not results:
            raise ValueError('AVSBinaryMetric got no results')
        ious, curves, empties = self._frames_in_order(results)
        if ious.size == 0:
            raise ValueError('AVSBinaryMetric scored no frame: no frame has '
                             'label_flag=True and a ground-truth mask')
        per_frame = binary_scores(ious, curves, empties)
        release = binary_scores(
            ious, curves, empties, chunk_frames=self.release_batch_frames)
        per_frame = tuple(100 * v for v in per_frame)
        release = tuple(100 * v for v in release)
        chosen = per_frame if self.mode == 'per_frame' else release
        suffix = self.release_suffix
        metrics = OrderedDict([('mIoU', chosen[0]), ('F-score', chosen[1]),
                               ('M_J', per_frame[0]), ('M_F', per_frame[1]),
                               ('M_J' + suffix, release[0]),
                               ('M_F' + suffix, release[1])])
        self._log_table(per_frame, release, len(results), ious.size,
                        int(empties.sum()))
        self._write_per_clip(
            self._per_clip_rows(results),
            columns=[
                'clip_name', 'sample_idx', 'num_scored_frames',
                'num_empty_gt_frames', 'M_J', 'M_F'
            ])
        return metrics

    def _log_table(self, per_frame: Sequence[float], release: Sequence[float],
                   num_clips: int, num_frames: int, num_empty: int) -> None:
        b = self.release_batch_frames
        num_chunks = -(-num_frames // b)
        table = PrettyTable()
        table.field_names = [
            'metric', 'per-frame (M_J, M_F)',
            f'release, {b} frames/batch (*{self.release_suffix})'
        ]
        table.add_row(
            ['M_J (mIoU)', f'{per_frame[0]:.2f}', f'{release[0]:.2f}'])
        table.add_row(
            ['M_F (F-score)', f'{per_frame[1]:.2f}', f'{release[1]:.2f}'])
        print_log(
            f'AVS binary metrics over {num_clips} clips, {num_frames} scored '
            f'frames ({num_empty} with an empty GT, left out of M_F), '
            f'{num_chunks} release batches; mIoU / F-score report the '
            f"'{self.mode}' mode:\n" + table.get_string(),
            logger='current')

    def _per_clip_rows(self, results: Sequence[dict]) -> List[dict]:
        rows = []
        for result in self._ordered(results):
            n = int(result['iou'].size)
            if n:
                clip_j, clip_f = binary_scores(result['iou'],
                                               result['f_curve'],
                                               result['empty_gt'])
                if result['empty_gt'].all():
                    clip_f = float('nan')
            else:
                clip_j = clip_f = float('nan')
            rows.append(
                dict(
                    clip_name=result['clip_name'],
                    sample_idx=result['sample_idx'],
                    num_scored_frames=n,
                    num_empty_gt_frames=int(result['empty_gt'].sum()),
                    M_J=json_float(100 * clip_j),
                    M_F=json_float(100 * clip_f),
                    frame_iou={
                        str(int(i)): json_float(100 * v)
                        for i, v in zip(result['frame_index'], result['iou'])
                    }))
        return rows
