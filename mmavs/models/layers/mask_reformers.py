# Copyright (c) mmavs contributors. All rights reserved.
"""Mask reformers: intermediate masks from every decoder layer (paper 3.6)."""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor


def mask_predictor(in_channels: int,
                   hidden_channels: int = 128,
                   out_channels: int = 32,
                   scale_factor: int = 4) -> nn.Sequential:
    """Conv3x3 -> bilinear upsampling -> Conv3x3 -> ReLU (the mask tail).

    The tail of AVSegFormer's mask generation; the final 1x1 classifier
    is separate so heads can use ``BaseDecodeHead.conv_seg``.

    Args:
        in_channels (int): Input channels (D).
        hidden_channels (int): Channels after the first convolution (128 in
            AVSegFormer).
        out_channels (int): Output channels (32 in AVSegFormer).
        scale_factor (int): Upsampling factor (1/4 -> full resolution).

    Returns:
        nn.Sequential: Indices 0 and 2 are the convolutions.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden_channels, 3, padding=1),
        nn.Upsample(
            scale_factor=scale_factor, mode='bilinear', align_corners=False),
        nn.Conv2d(hidden_channels, out_channels, 3, padding=1),
        nn.ReLU(inplace=True))


class _UpAdd(nn.Module):
    """Bilinear x2 upsampling then Conv3x3 (one FPN step)."""

    def __init__(self, channels: int):
        super().__init__()
        self.up = nn.Upsample(
            scale_factor=2, mode='bilinear', align_corners=False)
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(self.up(x))


class MaskReformer(BaseModule):
    """Turn per-level maps of one decoder layer into a one-channel mask.

    A simple top-down FPN (1/32 -> 1/16 -> 1/8 -> 1/4, adding the finer
    level at each step) followed by the mask tail (x4 upsampling) and a 1x1
    convolution to one foreground channel. One reformer is shared by all
    decoder layers. Subclasses decide what the per-level maps are.

    Args:
        embed_dims (int): Channels D of the maps fed to the FPN.
        tail_channels (tuple[int, int]): Channels of the mask tail's two
            convolutions. Defaults to (128, 32).
    """

    def __init__(self,
                 embed_dims: int = 256,
                 tail_channels: Tuple[int, int] = (128, 32),
                 init_cfg=None):
        super().__init__(init_cfg)
        self.up_from_coarsest = _UpAdd(embed_dims)
        self.up_from_middle = _UpAdd(embed_dims)
        self.up_to_quarter = _UpAdd(embed_dims)
        self.tail = mask_predictor(embed_dims, *tail_channels)
        self.classifier = nn.Conv2d(tail_channels[-1], 1, 1, bias=False)

    def reform(self, levels: Sequence[Tensor]) -> Tensor:
        """Levels [N, D, h_i, w_i] at 1/8, 1/16, 1/32 -> mask [N, 1, H, W]."""
        if len(levels) != 3:
            raise ValueError('MaskReformer needs 3 levels (1/8, 1/16, 1/32), '
                             f'got {len(levels)}')
        fine, middle, coarse = levels
        x = self.up_from_coarsest(coarse)
        x = self.up_from_middle(x[..., :middle.shape[-2], :middle.shape[-1]] +
                                middle)
        x = self.up_to_quarter(x[..., :fine.shape[-2], :fine.shape[-1]] + fine)
        return self.classifier(self.tail(x))

    @staticmethod
    def split_levels(tokens: Tensor,
                     spatial_shapes: Sequence[Tuple[int, int]]
                     ) -> List[Tensor]:
        """[N, C, L] channel-first tokens -> list of [N, C, h_i, w_i]."""
        sizes = [h * w for h, w in spatial_shapes]
        return [
            level.reshape(*level.shape[:2], h, w) for level, (h, w) in zip(
                tokens.split(sizes, dim=2), spatial_shapes)
        ]


@MODELS.register_module()
class QueryMixedReformer(MaskReformer):
    """Query-mixed reformer (QR, paper Fig. 5c, the adopted design).

    The cross-attention map A [N, Q, L] of a decoder layer is mixed with
    that layer's output queries [N, Q, D]: ``A^T Q_out`` gives a D-channel
    map over all L memory tokens, split back into the three levels.
    """

    def forward(self, queries: Tensor, attn_logits: Tensor,
                spatial_shapes: Sequence[Tuple[int, int]]) -> Tensor:
        """Predict an intermediate mask.

        Args:
            queries (Tensor): [N, Q, D] the layer's output queries.
            attn_logits (Tensor): [N, Q, L] its cross-attention map.
            spatial_shapes (Sequence[tuple[int, int]]): (h, w) of the 3
                levels, L = sum(h * w).

        Returns:
            Tensor: [N, 1, H, W] foreground logits at input resolution.
        """
        mixed = torch.einsum('nqd,nql->ndl', queries, attn_logits)
        return self.reform(self.split_levels(mixed, spatial_shapes))


@MODELS.register_module()
class AttentionOnlyReformer(MaskReformer):
    """Attention-only reformer (AR, paper Fig. 5b).

    Only the attention map A [N, Q, L] is used: its Q channels are projected
    to D by a 1x1 convolution per level before the FPN.

    Args:
        num_queries (int): Q, the channels of the attention map.
        embed_dims (int): D. Defaults to 256.
        tail_channels (tuple[int, int]): Mask tail channels. Defaults to
            (128, 32).
    """

    def __init__(self,
                 num_queries: int = 300,
                 embed_dims: int = 256,
                 tail_channels: Tuple[int, int] = (128, 32),
                 init_cfg=None):
        super().__init__(embed_dims, tail_channels, init_cfg)
        self.attn_proj = nn.Conv2d(num_queries, embed_dims, 1)

    def forward(self, queries: Tensor, attn_logits: Tensor,
                spatial_shapes: Sequence[Tuple[int, int]]) -> Tensor:
        """Same contract as :meth:`QueryMixedReformer.forward`; ``queries``
        is unused."""
        levels = self.split_levels(attn_logits, spatial_shapes)
        return self.reform([self.attn_proj(level) for level in levels])
