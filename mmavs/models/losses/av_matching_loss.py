# Copyright (c) mmavs contributors. All rights reserved.
"""Audio-visual matching loss of the AVSBench baseline (L_AVM, KL form)."""
from typing import Optional, Sequence

import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class AVMatchingLoss(nn.Module):
    """KL divergence between the audio feature and the visual feature pooled
    under the predicted sounding-object mask (AVSBench, "L_AVM-AV").

    For every frame n and every level s that has audio:

    .. code:: text

        m      = foreground(seg_logits) pooled to the level's h x w  [h, w]
        v      = mean_hw(visual_map * m)       (or sum / sum(m) with
                                                ``threshold_mask``)      [C]
        kl_n,s = sum_c p_a(c) log(p_a(c) / p_v(c)),
                 p_a = softmax(audio), p_v = softmax(v)

    i.e. ``F.kl_div(log_softmax(v), softmax(audio), reduction='none')``
    summed over channels. Frames are reduced with the per-frame ``weight``
    (the label flags): ``'mean'`` = ``sum_n w_n kl_n / sum_n w_n`` (AVSS
    release), ``'sum'`` = ``sum_n w_n kl_n`` (MS3 release, which sums over
    all B*T frames). Levels are averaged and the result is multiplied by
    ``loss_weight`` (lambda_1 = 0.5 as released).

    The foreground ``m``: one channel (binary) -> the logits are pooled
    first and then passed through a sigmoid (MS3 release; the mask keeps its
    gradient); several channels (semantic) -> ``argmax != background_index``
    as a 0/1 map, then pooled (AVSS release; no gradient through the mask).

    Args:
        stages (Sequence[int], optional): Levels to use; None = every level
            whose audio entry is not None. Defaults to None.
        mask_pooling (str): ``'avg'`` (released) or ``'max'`` adaptive
            pooling of the mask to each level's size.
        threshold_mask (bool): Binarise the pooled mask at 0.5 and average
            the visual map over the mask instead of over all positions.
            Defaults to False (as released for MS3 / AVSS).
        normalize (bool): L2-normalise both features before the softmax.
            Defaults to False (as released: ``--norm_fea_flag`` unset).
        background_index (int): Background class for semantic logits.
            Defaults to 0 (the AVSS background). The AVSS release uses the
            last channel (``C - 1``), which is a real class there; pass -1 to
            reproduce that.
        reduction (str): ``'mean'`` or ``'sum'`` over frames (see above).
        loss_weight (float): Weight of the loss. Defaults to 0.5.
        loss_name (str): Key in the loss dict (must start with ``loss_``).
            Defaults to ``'loss_av_match'``.
    """

    def __init__(self,
                 stages: Optional[Sequence[int]] = None,
                 mask_pooling: str = 'avg',
                 threshold_mask: bool = False,
                 normalize: bool = False,
                 background_index: int = 0,
                 reduction: str = 'mean',
                 loss_weight: float = 0.5,
                 loss_name: str = 'loss_av_match'):
        super().__init__()
        if mask_pooling not in ('avg', 'max'):
            raise ValueError(f"mask_pooling must be 'avg' or 'max', got "
                             f'{mask_pooling!r}')
        if reduction not in ('mean', 'sum'):
            raise ValueError(f"reduction must be 'mean' or 'sum', got "
                             f'{reduction!r}')
        self.stages = None if stages is None else list(stages)
        self.mask_pooling = mask_pooling
        self.threshold_mask = threshold_mask
        self.normalize = normalize
        self.background_index = background_index
        self.reduction = reduction
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def _pool(self, mask: Tensor, size) -> Tensor:
        if self.mask_pooling == 'avg':
            return F.adaptive_avg_pool2d(mask, size)
        return F.adaptive_max_pool2d(mask, size)

    def _full_size_foreground(self, seg_logits: Tensor) -> Tensor:
        """What is pooled per level: the logits of a binary model (pooled,
        then squashed), a 0/1 not-background map of a class model."""
        if seg_logits.shape[1] == 1:
            return seg_logits
        background = self.background_index % seg_logits.shape[1]
        hard = (seg_logits.argmax(1, keepdim=True) != background)
        return hard.to(seg_logits.dtype)

    def _foreground(self, full_size: Tensor, binary: bool, size) -> Tensor:
        pooled = self._pool(full_size, size)
        return pooled.sigmoid() if binary else pooled

    def forward(self,
                seg_logits: Tensor,
                visual_maps: Sequence[Optional[Tensor]],
                audio_feats: Sequence[Optional[Tensor]],
                weight: Optional[Tensor] = None) -> Tensor:
        """Compute the loss.

        Args:
            seg_logits (Tensor): Predicted logits [N, K, H, W] (K = 1 for
                binary masks), N = B*T frames.
            visual_maps (Sequence[Tensor | None]): Per level, the fused
                visual maps [N, C_s, h_s, w_s].
            audio_feats (Sequence[Tensor | None]): Per level, the audio
                features [N, C_s] (or [B, T, C_s]) in the same space; None
                for levels without audio.
            weight (Tensor, optional): [N] per-frame weights (label flags).
                Defaults to all ones.

        Returns:
            Tensor: Scalar loss.
        """
        stages = self.stages if self.stages is not None else [
            index for index, audio in enumerate(audio_feats)
            if audio is not None
        ]
        if not stages:
            raise ValueError('AVMatchingLoss got no level with audio features')
        num_frames = seg_logits.shape[0]
        if weight is None:
            weight = seg_logits.new_ones(num_frames)
        weight = weight.to(seg_logits.dtype)
        total = seg_logits.new_zeros(())
        # The argmax over the classes is the same for every level.
        full_size = self._full_size_foreground(seg_logits)
        binary = seg_logits.shape[1] == 1
        for stage in stages:
            visual, audio = visual_maps[stage], audio_feats[stage]
            if visual is None or audio is None:
                raise ValueError(f'level {stage} has no visual map or audio')
            audio = audio.reshape(num_frames, -1)
            if audio.shape[1] != visual.shape[1]:
                raise ValueError(f'level {stage}: audio has {audio.shape[1]} '
                                 f'channels, visual map {visual.shape[1]}')
            mask = self._foreground(full_size, binary, visual.shape[-2:])
            if self.threshold_mask:
                mask = (mask > 0.5).to(visual.dtype)
                pooled = (visual * mask).sum((2, 3)) / (
                    mask.sum((2, 3)) + 1e-6)
            else:
                pooled = (visual * mask).mean((2, 3))
            if self.normalize:
                audio = F.normalize(audio, dim=-1)
                pooled = F.normalize(pooled, dim=-1)
            per_frame = F.kl_div(
                F.log_softmax(pooled, dim=-1),
                F.softmax(audio, dim=-1),
                reduction='none').sum(-1)
            weighted = (per_frame * weight).sum()
            if self.reduction == 'mean':
                # No weighted frame: 0 (the release would divide by zero);
                # the product keeps every input in the graph.
                weighted = weighted / weight.sum().clamp(min=1e-6)
            total = total + weighted
        return self.loss_weight * total / len(stages)
