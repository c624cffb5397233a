# Copyright (c) mmavs contributors. All rights reserved.
"""Clip bookkeeping shared by the AVSBench metrics."""
import csv
import json
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.dist import is_main_process
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmengine.utils import mkdir_or_exist
from PIL import Image
from torch import Tensor


class BaseAVSClipMetric(BaseMetric):
    """Base class of metrics that receive frames and keep one result per clip.

    The model returns one prediction per frame, but mmengine's distributed
    ``collect_results`` truncates the gathered results to the dataset length,
    which counts clips. ``process`` therefore groups consecutive frames with
    the same ``sample_idx`` (``clip_name`` when the index is missing) and
    appends one result per clip; frames of a clip split over two ``process``
    calls are merged into the clip's result.

    Subclasses implement :meth:`_process_clip`, :meth:`_merge_clip_results`
    and ``compute_metrics``.

    Args:
        eval_size (int | tuple[int, int], optional): ``(H, W)`` at which
            predictions and ground truth are compared: prediction scores are
            resized bilinearly, label maps by nearest neighbour. None (the
            default) compares at the size of the ground-truth mask as
            received (the original mask size in mmseg's test pipelines).
        ignore_index (int): Ground-truth value of pixels that do not count.
            Defaults to 255.
        output_dir (str, optional): Where to write the per-clip scores
            (``per_clip_scores.json`` / ``.csv``) and, with
            ``keep_results``, the predicted masks
            (``{output_dir}/{clip_name}/{frame_index}.png``). Defaults to
            None.
        keep_results (bool): Also write the predicted masks to
            ``output_dir`` (mmseg's name: its ``tools/test.py --out`` sets
            it, as mmavs' does). Defaults to False.
        format_only (bool): Only write the masks, compute no metric (for
            test sets without ground truth); needs ``output_dir``. Defaults
            to False.
        collect_device (str): ``'cpu'`` or ``'gpu'``, used to gather results
            across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to None.
    """

    def __init__(self,
                 eval_size: Union[int, Tuple[int, int], None] = None,
                 ignore_index: int = 255,
                 output_dir: Optional[str] = None,
                 keep_results: bool = False,
                 format_only: bool = False,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if isinstance(eval_size, int):
            eval_size = (eval_size, eval_size)
        if eval_size is not None:
            eval_size = tuple(int(s) for s in eval_size)
            if len(eval_size) != 2 or min(eval_size) < 1:
                raise ValueError(f'eval_size must be (H, W), got {eval_size}')
        self.eval_size = eval_size
        self.ignore_index = ignore_index
        self.output_dir = output_dir
        # format_only writes nothing but the masks.
        self.keep_results = keep_results or format_only
        self.format_only = format_only
        if format_only and output_dir is None:
            raise ValueError('format_only=True needs an output_dir')
        if output_dir is not None and is_main_process():
            mkdir_or_exist(output_dir)

    # ------------------------------------------------------------------
    # grouping frames into clips
    # ------------------------------------------------------------------
    @staticmethod
    def _clip_name(frame: dict) -> str:
        name = frame.get('clip_name')
        if name is None and frame.get('img_path'):
            name = osp.basename(osp.dirname(frame['img_path']))
        return str(name) if name is not None else 'clip'

    def _group_clips(self, data_samples: Sequence[dict]) -> List[dict]:
        """Group consecutive frames of the same clip.

        Returns:
            list[dict]: One dict per clip run: ``sample_idx`` (int or None),
            ``clip_name`` (str) and ``frames`` (list of ``(frame_index,
            frame_dict)``).
        """
        clips: List[dict] = []
        for frame in data_samples:
            sample_idx = frame.get('sample_idx')
            clip_name = self._clip_name(frame)
            key = ('idx',
                   int(sample_idx)) if sample_idx is not None else ('name',
                                                                    clip_name)
            if not clips or clips[-1]['key'] != key:
                clips.append(
                    dict(
                        key=key,
                        sample_idx=None
                        if sample_idx is None else int(sample_idx),
                        clip_name=clip_name,
                        frames=[]))
            position = len(clips[-1]['frames'])
            frame_index = int(frame.get('frame_index', position))
            clips[-1]['frames'].append((frame_index, frame))
        return clips

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Score a batch of frame predictions, one result per clip.

        Args:
            data_batch (Any): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): B*T frame predictions in clip-major
                order, as ``SegDataSample.to_dict()``: ``pred_sem_seg`` /
                ``seg_logits`` / ``gt_sem_seg`` (dicts with ``data``) and the
                frame meta information (``sample_idx``, ``frame_index``,
                ``clip_name``, ``label_flag``, ``frame_valid``, ...).
        """
        for clip in self._group_clips(data_samples):
            result = self._process_clip(clip)
            result.setdefault('key', clip['key'])
            result.setdefault('sample_idx', clip['sample_idx'])
            result.setdefault('clip_name', clip['clip_name'])
            if self.results and self.results[-1]['key'] == clip['key']:
                self.results[-1] = self._merge_clip_results(
                    self.results[-1], result)
            else:
                self.results.append(result)

    def _process_clip(self, clip: dict) -> dict:
        """Return the small result of one clip (see :meth:`_group_clips`)."""
        raise NotImplementedError

    def _merge_clip_results(self, first: dict, second: dict) -> dict:
        """Merge two results of the same clip (frames split over batches)."""
        raise NotImplementedError

    @staticmethod
    def _ordered(results: Sequence[dict]) -> List[dict]:
        """Clip results in dataset order (by ``sample_idx`` when all have
        one; otherwise in the order received)."""
        if all(r.get('sample_idx') is not None for r in results):
            return sorted(results, key=lambda r: r['sample_idx'])
        return list(results)

    # ------------------------------------------------------------------
    # tensors
    # ------------------------------------------------------------------
    @staticmethod
    def _data(frame: dict, field: str) -> Optional[Tensor]:
        value = frame.get(field)
        if value is None:
            return None
        if isinstance(value, dict):
            value = value.get('data')
        elif hasattr(value, 'data'):
            value = value.data
        return value

    def _resize_scores(self, scores: Tensor) -> Tensor:
        """Resize [C, H, W] scores bilinearly to ``eval_size``."""
        if self.eval_size is None or tuple(scores.shape[-2:]) == \
                self.eval_size:
            return scores
        return F.interpolate(
            scores[None].float(),
            size=self.eval_size,
            mode='bilinear',
            align_corners=False)[0]

    def _resize_labels(self, labels: Tensor) -> Tensor:
        """Resize a [H, W] label map by nearest neighbour to ``eval_size``."""
        if self.eval_size is None or tuple(labels.shape[-2:]) == \
                self.eval_size:
            return labels
        return F.interpolate(
            labels[None, None].float(), size=self.eval_size,
            mode='nearest')[0, 0].long()

    def _gt(self, frame: dict) -> Optional[Tensor]:
        """The frame's GT label map [H, W] (long) at the evaluation size."""
        gt = self._data(frame, 'gt_sem_seg')
        if gt is None:
            return None
        gt = torch.as_tensor(gt)
        if gt.dim() == 3:
            gt = gt[0]
        return self._resize_labels(gt.long())

    @staticmethod
    def _check_shapes(pred: Tensor, gt: Tensor) -> None:
        if tuple(pred.shape[-2:]) != tuple(gt.shape[-2:]):
            raise ValueError(
                f'prediction {tuple(pred.shape[-2:])} and ground truth '
                f'{tuple(gt.shape[-2:])} differ in size; set eval_size to '
                'compare them at a common resolution')

    # ------------------------------------------------------------------
    # outputs
    # ------------------------------------------------------------------
    def _save_mask(self,
                   clip_name: str,
                   frame_index: int,
                   mask: np.ndarray,
                   palette: Optional[np.ndarray] = None) -> None:
        """Write ``{output_dir}/{clip_name}/{frame_index}.png``.

        Args:
            clip_name (str): Folder name.
            frame_index (int): 0-based frame index, the file name.
            mask (np.ndarray): uint8 [H, W].
            palette (np.ndarray, optional): uint8 [K, 3]; when given the PNG
                is a palette image whose pixel values are the class ids.
        """
        if self.output_dir is None or not self.keep_results:
            return
        folder = osp.join(self.output_dir, clip_name)
        mkdir_or_exist(folder)
        image = Image.fromarray(mask.astype(np.uint8))
        if palette is not None:
            image = image.convert('P')
            flat = np.zeros((256, 3), dtype=np.uint8)
            flat[:len(palette)] = np.asarray(palette, dtype=np.uint8)[:256]
            image.putpalette(flat.reshape(-1).tolist())
        image.save(osp.join(folder, f'{frame_index}.png'))

    def _write_per_clip(self, rows: List[Dict[str, Any]],
                        columns: List[str]) -> None:
        """Write per-clip scores to ``per_clip_scores.json`` and ``.csv``.

        Args:
            rows (list[dict]): One JSON-serialisable dict per clip.
            columns (list[str]): Keys that go into the CSV.
        """
        if self.output_dir is None:
            return
        mkdir_or_exist(self.output_dir)
        json_path = osp.join(self.output_dir, 'per_clip_scores.json')
        with open(json_path, 'w') as f:
            json.dump(rows, f, indent=1)
        with open(
                osp.join(self.output_dir, 'per_clip_scores.csv'), 'w',
                newline='') as f:
            writer = csv.DictWriter(
                f, fieldnames=columns, extrasaction='ignore')
            writer.writeheader()
            writer.writerows(rows)
        print_log(f'per-clip scores written to {json_path}', logger='current')


def json_float(value: float, digits: int = 4) -> Optional[float]:
    """Round a float for JSON output.

    Args:
        value (float): The value; NaN, inf and None give None.
        digits (int): Decimal digits kept. Defaults to 4.

    Returns:
        float | None: The rounded value.
    """
    if value is None or not np.isfinite(value):
        return None
    return round(float(value), digits)
