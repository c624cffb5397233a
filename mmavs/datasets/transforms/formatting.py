# Copyright (c) mmavs contributors. All rights reserved.
"""Pack a clip into model inputs and a :class:`ClipDataSample`."""
from typing import Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

from mmavs.structures import ClipDataSample
from ..errors import AVSDataError

#: Frame meta keys packed by default (see docs/design.md).
FRAME_META_KEYS = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'flip', 'flip_direction',
                   'reduce_zero_label', 'clip_name', 'sample_idx',
                   'frame_index', 'num_frames', 'label_flag', 'frame_valid')
#: Clip meta keys packed by default.
CLIP_META_KEYS = ('clip_name', 'num_frames', 'sample_idx')
#: Values of frame meta keys a pipeline without Resize/RandomFlip lacks; the
#: model's post-processing reads them.
FRAME_META_DEFAULTS = dict(
    scale_factor=(1.0, 1.0), flip=False, flip_direction=None)


@TRANSFORMS.register_module()
class PackAVSInputs(BaseTransform):
    """Pack the frames, audio and masks of a clip for an AVS model.

    Required Keys:

    - imgs (list[np.ndarray]): T [H, W, 3] frames.
    - audio (np.ndarray): [T, 1, 96, 64] or [T, C].
    - gt_seg_maps (list[np.ndarray], optional): T [H', W'] masks.
    - frame_paths, seg_map_paths, label_flags, frame_valid (lists of T).
    - the keys named in ``meta_keys`` and ``clip_meta_keys``.

    Added Keys:

    - inputs (dict): ``frames`` Tensor [T, 3, H, W] (dtype of the frames,
      uint8 BGR normally) and ``audio`` float32 Tensor.
    - data_samples (:class:`~mmavs.structures.ClipDataSample`): clip meta
      ``clip_meta_keys``; ``frames`` = T
      :class:`~mmseg.structures.SegDataSample` with ``gt_sem_seg``
      (``PixelData`` long [1, H', W'], when masks were loaded) and the
      frame meta ``meta_keys``. Per frame, ``img_path`` and
      ``seg_map_path`` come from ``frame_paths``/``seg_map_paths``,
      ``frame_index`` is t, ``label_flag`` and ``frame_valid`` are bools;
      the rest is shared by the clip. ``scale_factor``, ``flip`` and
      ``flip_direction`` default to (1.0, 1.0), False and None.

    Args:
        meta_keys (Sequence[str]): Frame meta keys. Defaults to
            ``FRAME_META_KEYS``.
        clip_meta_keys (Sequence[str]): Clip meta keys. Defaults to
            ``('clip_name', 'num_frames', 'sample_idx')``.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = FRAME_META_KEYS,
                 clip_meta_keys: Sequence[str] = CLIP_META_KEYS) -> None:
        self.meta_keys = tuple(meta_keys)
        self.clip_meta_keys = tuple(clip_meta_keys)

    @staticmethod
    def _frame_value(results: dict, key: str, index: int):
        """(found, value) of a frame meta key for frame ``index``."""
        per_frame = dict(
            img_path='frame_paths',
            seg_map_path='seg_map_paths',
            label_flag='label_flags',
            frame_valid='frame_valid')
        if key == 'frame_index':
            return True, index
        if key in per_frame:
            values = results.get(per_frame[key])
            if values is None:
                return False, None
            value = values[index]
            if key in ('label_flag', 'frame_valid'):
                value = bool(value)
            return True, value
        if key in results:
            return True, results[key]
        if key in FRAME_META_DEFAULTS:
            return True, FRAME_META_DEFAULTS[key]
        return False, None

    def transform(self, results: dict) -> dict:
        """Pack a clip; see the class docstring for the keys."""
        imgs = results['imgs']
        num_frames = len(imgs)
        frames = np.stack([
            img[..., None] if img.ndim == 2 else img for img in imgs
        ]).transpose(0, 3, 1, 2)
        inputs = dict(frames=torch.from_numpy(np.ascontiguousarray(frames)))
        if 'audio' in results:
            audio = np.asarray(results['audio'], dtype=np.float32)
            if audio.shape[0] != num_frames:
                raise AVSDataError(
                    f'{results.get("audio_path")}: {audio.shape[0]} audio '
                    f'examples for {num_frames} frames')
            inputs['audio'] = torch.from_numpy(np.ascontiguousarray(audio))

        masks = results.get('gt_seg_maps')
        frame_samples = []
        for index in range(num_frames):
            sample = SegDataSample()
            if masks is not None:
                sample.gt_sem_seg = PixelData(
                    data=torch.from_numpy(masks[index][None].astype(np.int64)))
            meta = {}
            for key in self.meta_keys:
                found, value = self._frame_value(results, key, index)
                if found:
                    meta[key] = value
            sample.set_metainfo(meta)
            frame_samples.append(sample)

        clip = ClipDataSample(metainfo={
            key: results[key]
            for key in self.clip_meta_keys if key in results
        })
        clip.frames = frame_samples
        return dict(inputs=inputs, data_samples=clip)

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(meta_keys={self.meta_keys}, '
                f'clip_meta_keys={self.clip_meta_keys})')
