# Copyright (c) mmavs contributors. All rights reserved.
"""Fake per-frame predictions, shaped as mmengine's Evaluator passes them."""
from typing import Optional, Sequence

import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample


def build_frame_sample(gt: Optional[torch.Tensor],
                       scores: Optional[torch.Tensor] = None,
                       pred: Optional[torch.Tensor] = None,
                       sample_idx: Optional[int] = 0,
                       frame_index: int = 0,
                       num_frames: int = 5,
                       clip_name: Optional[str] = None,
                       label_flag: bool = True,
                       frame_valid: bool = True) -> SegDataSample:
    """One frame prediction as the model's ``predict`` returns it.

    Args:
        gt (Tensor | None): GT label map [H, W] (255 = ignore) or None.
        scores (Tensor, optional): ``seg_logits`` data: [H, W] foreground
            probabilities (stored as [1, H, W]) or [C, H, W] logits.
        pred (Tensor, optional): ``pred_sem_seg`` [H, W]; derived from
            ``scores`` when omitted (``> 0.5`` or argmax).
        sample_idx (int, optional): Dataset index of the clip (None: left
            out of the meta information).
        frame_index (int): 0-based frame index.
        num_frames (int): T.
        clip_name (str, optional): Defaults to ``f'clip{sample_idx}'``.
        label_flag (bool): Whether the frame's label counts.
        frame_valid (bool): False for padded frames.

    Returns:
        SegDataSample: The frame sample.
    """
    if clip_name is None:
        clip_name = f'clip{sample_idx}'
    metainfo = dict(
        clip_name=clip_name,
        frame_index=frame_index,
        num_frames=num_frames,
        label_flag=label_flag,
        frame_valid=frame_valid,
        img_path=f'/data/{clip_name}/{frame_index + 1}.png')
    if sample_idx is not None:
        metainfo['sample_idx'] = sample_idx
    sample = SegDataSample(metainfo=metainfo)
    if scores is not None:
        scores = scores.float()
        if scores.dim() == 2:
            scores = scores[None]
        sample.seg_logits = PixelData(data=scores)
        if pred is None:
            pred = (scores[0] > 0.5).long() if scores.shape[0] == 1 \
                else scores.argmax(0)
    if pred is not None:
        sample.pred_sem_seg = PixelData(data=pred.long()[None])
    if gt is not None:
        sample.gt_sem_seg = PixelData(data=gt.long()[None])
    return sample


def build_frame(*args, **kwargs) -> dict:
    """:func:`build_frame_sample` converted with ``to_dict()``, exactly what
    ``Evaluator.process`` hands to a metric's ``process``."""
    return build_frame_sample(*args, **kwargs).to_dict()


def build_clip(sample_idx: int,
               gts: Sequence[Optional[torch.Tensor]],
               scores: Sequence[torch.Tensor],
               label_flags: Optional[Sequence[bool]] = None,
               frame_valid: Optional[Sequence[bool]] = None,
               as_samples: bool = False) -> list:
    """All frames of one clip, in time order.

    Args:
        sample_idx (int): Dataset index of the clip.
        gts (Sequence[Tensor | None]): T GT maps [H, W].
        scores (Sequence[Tensor]): T score maps ([H, W] or [C, H, W]).
        label_flags (Sequence[bool], optional): Defaults to all True.
        frame_valid (Sequence[bool], optional): Defaults to all True.
        as_samples (bool): Return SegDataSamples instead of dicts.

    Returns:
        list: T frame dicts (or SegDataSamples).
    """
    num = len(gts)
    label_flags = [True] * num if label_flags is None else label_flags
    frame_valid = [True] * num if frame_valid is None else frame_valid
    build = build_frame_sample if as_samples else build_frame
    return [
        build(
            gts[t],
            scores[t],
            sample_idx=sample_idx,
            frame_index=t,
            num_frames=num,
            label_flag=label_flags[t],
            frame_valid=frame_valid[t]) for t in range(num)
    ]


@pytest.fixture
def avs_frames():
    """The fake-prediction builders: ``frame``, ``frame_sample`` and
    ``clip`` (see :func:`build_frame`, :func:`build_frame_sample`,
    :func:`build_clip`)."""

    class Builders:
        frame = staticmethod(build_frame)
        frame_sample = staticmethod(build_frame_sample)
        clip = staticmethod(build_clip)

    return Builders
