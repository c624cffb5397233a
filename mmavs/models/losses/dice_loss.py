# Copyright (c) mmavs contributors. All rights reserved.
"""Dice loss of AVSBench/AVSegFormer with per-pixel ignore."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class AVSDiceLoss(nn.Module):
    """Per-frame Dice loss ``1 - 2 sum(p g) / (sum(p^2) + eps + sum(g^2) +
    eps)``, averaged over frames (AVSBench, AVSegFormer).

    mmseg's ``DiceLoss`` has the same formula but its ``ignore_index`` drops a
    class channel, not pixels, and its one-hot expansion does not handle a
    single sigmoid channel; here ignored pixels (padding, 255) are removed
    from both sums.

    Args:
        use_sigmoid (bool): Sigmoid on a one-channel prediction (binary
            masks). With C > 1 channels a softmax and one-hot targets are
            used and the loss is averaged over classes. Defaults to True.
        eps (float): Added to each denominator sum. Defaults to 1e-3.
        loss_weight (float): Weight of the loss. Defaults to 1.0.
        ignore_index (int): Label of ignored pixels. Defaults to 255.
        loss_name (str): Key in the loss dict (must start with ``loss_``).
            Defaults to ``'loss_dice'``.
    """

    def __init__(self,
                 use_sigmoid: bool = True,
                 eps: float = 1e-3,
                 loss_weight: float = 1.0,
                 ignore_index: int = 255,
                 loss_name: str = 'loss_dice'):
        super().__init__()
        self.use_sigmoid = use_sigmoid
        self.eps = eps
        self.loss_weight = loss_weight
        self.ignore_index = ignore_index
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: Optional[int] = None,
                **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): [N, C, H, W] logits (C = 1 for binary masks).
            target (Tensor): [N, H, W] labels: 0/1 for binary, class ids
                otherwise; ``ignore_index`` marks ignored pixels.
            weight (Tensor, optional): [N] per-frame weights.
            ignore_index (int, optional): Overrides the constructor's.

        Returns:
            Tensor: Scalar loss.
        """
        ignore_index = self.ignore_index if ignore_index is None \
            else ignore_index
        valid = (target != ignore_index)
        if pred.shape[1] == 1:
            probs = pred.sigmoid() if self.use_sigmoid else pred
            probs = probs[:, 0] * valid
            onehot = (target == 1) & valid
            per_frame = self._dice(probs.flatten(1), onehot.flatten(1))
        else:
            probs = pred.softmax(1) * valid[:, None]
            classes = torch.where(valid, target, torch.zeros_like(target))
            onehot = F.one_hot(classes.long(), pred.shape[1]).permute(
                0, 3, 1, 2) * valid[:, None]
            per_class = self._dice(
                probs.flatten(2), onehot.flatten(2))
            per_frame = per_class.mean(1)
        loss = 1 - per_frame
        if weight is not None:
            return self.loss_weight * (loss * weight).sum() / weight.sum(
            ).clamp(min=1e-6)
        return self.loss_weight * loss.mean()

    def _dice(self, probs: Tensor, target: Tensor) -> Tensor:
        target = target.to(probs.dtype)
        inter = (probs * target).sum(-1)
        denom = (probs * probs).sum(-1) + self.eps + (
            target * target).sum(-1) + self.eps
        return 2 * inter / denom
