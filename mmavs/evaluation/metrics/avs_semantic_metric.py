# Copyright (c) mmavs contributors. All rights reserved.
"""Semantic mIoU and F-score of AVSBench-semantic (AVSS)."""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.logging import print_log
from prettytable import PrettyTable
from torch import Tensor

from mmseg.registry import METRICS
from ..functional import BETA2, semantic_class_scores, semantic_frame_stats
from ...datasets.metainfo import bit_interleaved_palette
from .base_avs_metric import BaseAVSClipMetric, json_float


@METRICS.register_module()
class AVSSemanticMetric(BaseAVSClipMetric):
    """AVSBench-semantic (AVSS) mIoU and F-score, as the AVSS release.

    Per scored frame, the prediction is the per-pixel argmax; for every class
    c the frame's intersection ``I``, prediction ``P``, ground truth ``G``
    and union ``U`` give ``IoU = I / U`` and ``F = (1 + beta2) * prec * rec
    / (beta2 * prec + rec)`` (0 where undefined). Each class accumulates
    these over the frames in which it appears (``U > 0``, in prediction or
    GT), and its score is the sum divided by that number of frames. The
    means are over all C classes (71 for AVSS), classes never seen counting
    0 (see :func:`mmavs.evaluation.functional.semantic_frame_stats`).

    Frames scored: real frames with ``label_flag`` True; frames padded to
    reach T (``frame_valid`` False; S4/MS3 clips inside AVSS) are scored too
    when ``score_padded_frames`` is True (the release's behaviour: it scores
    all 10 frames of every clip, and its padded frames carry an all-zero,
    i.e. all-background, mask; here their ground truth is likewise taken as
    all background, whatever the data sample holds). Real frames without a
    label (``label_flag`` False) are never scored. GT pixels equal to
    ``ignore_index`` are left out of all counts (the release's AVSS masks
    have none).

    Returned keys (percentages, not rounded):

    - ``mIoU``, ``F-score``: means over all classes, background included
      (the release's reported figures).
    - ``mIoU_noBg``, ``F-score_noBg``: means over classes 1..C-1, i.e. with
      the background (class 0) excluded.
    - ``mIoU_noBg_release``, ``F-score_noBg_release``: the release's
      "no background" figures. They average ``per_class[:-1]``, which drops
      the LAST class (index C-1), not the background: they are means over
      classes 0..C-2. Reported only to compare with the release's logs; the
      correct figure is ``*_noBg``.
    - ``M_J``, ``M_F``: the same values as ``mIoU`` / ``F-score``, so that
      ``save_best='M_J'`` (with ``rule='greater'``) works for every
      AVSBench task.

    Args:
        num_classes (int, optional): Number of classes. The length of
            ``dataset_meta['classes']`` is used when available (and must
            match when both are given); otherwise this, otherwise the number
            of ``seg_logits`` channels.
        beta2 (float): beta^2 of the F-measure. Defaults to 0.3.
        score_padded_frames (bool): Score padded frames (``frame_valid``
            False) against an all-background GT, as released. Defaults to
            True; False scores real labelled frames only.
        **kwargs: :class:`BaseAVSMetric` arguments: ``eval_size`` (logits
            are resized before the argmax), ``ignore_index``, ``output_dir``,
            ``keep_results`` (masks are palette PNGs whose pixel values are
            class ids; padded frames are not written), ``format_only``,
            ``collect_device``, ``prefix``.
    """

    def __init__(self,
                 num_classes: Optional[int] = None,
                 beta2: float = BETA2,
                 score_padded_frames: bool = True,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.beta2 = beta2
        self.score_padded_frames = score_padded_frames

    def _get_num_classes(self, channels: Optional[int] = None) -> int:
        classes = (self.dataset_meta or {}).get('classes')
        if classes is not None:
            if self.num_classes is not None and \
                    self.num_classes != len(classes):
                raise ValueError(
                    f'num_classes={self.num_classes} but dataset_meta has '
                    f'{len(classes)} classes')
            return len(classes)
        if self.num_classes is not None:
            return int(self.num_classes)
        if channels is not None and channels > 1:
            return int(channels)
        raise ValueError('AVSSemanticMetric needs num_classes, '
                         "dataset_meta['classes'] or seg_logits")

    def _class_names(self, num_classes: int) -> List[str]:
        classes = (self.dataset_meta or {}).get('classes')
        if classes is not None:
            return [str(c) for c in classes]
        return [str(i) for i in range(num_classes)]

    def _palette(self, num_classes: int) -> np.ndarray:
        palette = (self.dataset_meta or {}).get('palette')
        if palette is not None and len(palette) >= num_classes:
            return np.asarray(palette, dtype=np.uint8)
        return np.asarray(
            bit_interleaved_palette(max(num_classes, 1)), dtype=np.uint8)

    def _pred_labels(self, frame: dict) -> Tuple[Tensor, Optional[int]]:
        """Predicted class ids [H, W] at the evaluation size, and the
        number of logit channels (None without ``seg_logits``)."""
        logits = self._data(frame, 'seg_logits')
        if logits is not None:
            logits = torch.as_tensor(logits)
            if logits.dim() == 2:
                logits = logits[None]
            return self._resize_scores(logits).argmax(0), logits.shape[0]
        pred = self._data(frame, 'pred_sem_seg')
        if pred is None:
            raise KeyError('a frame has neither seg_logits nor pred_sem_seg')
        pred = torch.as_tensor(pred)
        if pred.dim() == 3:
            pred = pred[0]
        return self._resize_labels(pred.long()), None

    def _process_clip(self, clip: dict) -> dict:
        num_classes = None
        iou_sum = f_sum = count = None
        num_scored = 0
        for frame_index, frame in clip['frames']:
            frame_valid = bool(frame.get('frame_valid', True))
            pred, channels = self._pred_labels(frame)
            num_classes = self._get_num_classes(channels)
            if frame_valid:
                self._save_mask(
                    clip['clip_name'],
                    frame_index,
                    pred.cpu().numpy().astype(np.uint8),
                    palette=self._palette(num_classes))
            if self.format_only:
                continue
            if not frame_valid:
                if not self.score_padded_frames:
                    continue
                # the release pads masks with zeros: all background
                gt = torch.zeros_like(pred)
            else:
                if not bool(frame.get('label_flag', True)):
                    continue
                gt = self._gt(frame)
                if gt is None:
                    continue
                gt = gt.to(pred.device)
                if not bool((gt != self.ignore_index).any()):
                    continue
            self._check_shapes(pred, gt)
            iou, fscore, present = semantic_frame_stats(
                pred, gt, num_classes, self.ignore_index, self.beta2)
            if iou_sum is None:
                iou_sum = np.zeros(num_classes)
                f_sum = np.zeros(num_classes)
                count = np.zeros(num_classes, dtype=np.int64)
            iou_sum += iou[0]
            f_sum += fscore[0]
            count += present[0]
            num_scored += 1
        return dict(
            iou_sum=iou_sum,
            f_sum=f_sum,
            count=count,
            num_scored_frames=num_scored)

    def _merge_clip_results(self, first: dict, second: dict) -> dict:
        merged = dict(first)
        merged['num_scored_frames'] = (
            first['num_scored_frames'] + second['num_scored_frames'])
        for key in ('iou_sum', 'f_sum', 'count'):
            if first[key] is None:
                merged[key] = second[key]
            elif second[key] is not None:
                merged[key] = first[key] + second[key]
        return merged

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Reduce per-clip class sums to the AVSS scores.

        Args:
            results (list[dict]): One dict per clip, gathered over ranks:
                ``iou_sum`` [C], ``f_sum`` [C], ``count`` [C] (None when the
                clip has no scored frame) and ``num_scored_frames``.

        Returns:
            dict[str, float]: ``mIoU``, ``F-score``, ``mIoU_noBg``,
            ``F-score_noBg``, ``mIoU_noBg_release``, ``F-score_noBg_release``,
            ``M_J``, ``M_F``; percentages.
        """
        if self.format_only:
            print_log(
                f'predicted masks written to {self.output_dir}',
                logger='current')
            return OrderedDict()
        scored = [r for r in results if r['iou_sum'] is not None]
        if not scored:
            raise ValueError('AVSSemanticMetric scored no frame')
        iou_sum = np.sum([r['iou_sum'] for r in scored], axis=0)
        f_sum = np.sum([r['f_sum'] for r in scored], axis=0)
        count = np.sum([r['count'] for r in scored], axis=0)
        num_classes = iou_sum.shape[0]
        iou_pc, f_pc = semantic_class_scores(iou_sum, f_sum, count)
        if num_classes > 1:
            no_bg = slice(1, None)  # background is class 0
            release_no_bg = slice(None, -1)  # what the release drops
        else:
            no_bg = release_no_bg = slice(None)
        metrics = OrderedDict([
            ('mIoU', 100 * iou_pc.mean()),
            ('F-score', 100 * f_pc.mean()),
            ('mIoU_noBg', 100 * iou_pc[no_bg].mean()),
            ('F-score_noBg', 100 * f_pc[no_bg].mean()),
            ('mIoU_noBg_release', 100 * iou_pc[release_no_bg].mean()),
            ('F-score_noBg_release', 100 * f_pc[release_no_bg].mean()),
        ])
        metrics['M_J'] = metrics['mIoU']
        metrics['M_F'] = metrics['F-score']
        metrics = OrderedDict((k, float(v)) for k, v in metrics.items())
        self._log_tables(metrics, iou_pc, f_pc, count, len(results),
                         sum(r['num_scored_frames'] for r in results))
        self._write_per_clip(
            self._per_clip_rows(results),
            columns=[
                'clip_name', 'sample_idx', 'num_scored_frames', 'mIoU',
                'F-score'
            ])
        return metrics

    def _log_tables(self, metrics: Dict[str, float], iou_pc: np.ndarray,
                    f_pc: np.ndarray, count: np.ndarray, num_clips: int,
                    num_frames: int) -> None:
        class_table = PrettyTable()
        class_table.add_column('Class', self._class_names(len(iou_pc)))
        class_table.add_column('IoU', np.round(iou_pc * 100, 2).tolist())
        class_table.add_column('F-score', np.round(f_pc * 100, 2).tolist())
        class_table.add_column('frames', count.tolist())
        print_log(
            'per class results (each class averaged over the frames '
            "in which it appears in prediction or GT, 'frames'; a "
            'class never seen scores 0):\n' + class_table.get_string(),
            logger='current')
        summary = PrettyTable()
        summary.field_names = ['classes averaged', 'mIoU', 'F-score']
        summary.add_row([
            'all (as released)', f"{metrics['mIoU']:.2f}",
            f"{metrics['F-score']:.2f}"
        ])
        summary.add_row([
            'without background (*_noBg)', f"{metrics['mIoU_noBg']:.2f}",
            f"{metrics['F-score_noBg']:.2f}"
        ])
        summary.add_row([
            'release "noBg": drops the last class, not the background',
            f"{metrics['mIoU_noBg_release']:.2f}",
            f"{metrics['F-score_noBg_release']:.2f}"
        ])
        print_log(
            f'AVSS metrics over {num_clips} clips, {num_frames} scored '
            f'frames (padded frames scored: {self.score_padded_frames}):\n' +
            summary.get_string(),
            logger='current')

    def _per_clip_rows(self, results: Sequence[dict]) -> List[dict]:
        rows = []
        for result in self._ordered(results):
            if result['iou_sum'] is None:
                clip_j = clip_f = float('nan')
                seen = []
            else:
                seen_mask = result['count'] > 0
                iou_pc, f_pc = semantic_class_scores(result['iou_sum'],
                                                     result['f_sum'],
                                                     result['count'])
                clip_j = float(iou_pc[seen_mask].mean())
                clip_f = float(f_pc[seen_mask].mean())
                seen = np.flatnonzero(seen_mask).tolist()
            rows.append(
                dict(
                    clip_name=result['clip_name'],
                    sample_idx=result['sample_idx'],
                    num_scored_frames=result['num_scored_frames'],
                    mIoU=json_float(100 * clip_j),
                    **{'F-score': json_float(100 * clip_f)},
                    classes=seen))
        return rows
