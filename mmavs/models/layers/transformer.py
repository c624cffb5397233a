# Copyright (c) mmavs contributors. All rights reserved.
"""Post-norm transformer encoder and decoder of AVSegFormer.

The layer and parameter names follow PyTorch's ``nn.TransformerEncoderLayer``
(``self_attn``, ``linear1``, ``linear2``, ``norm1``...), which is also how the
public AVSegFormer release names them; converting its checkpoints is then a
prefix change.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule
from torch import Tensor

from .ms_deform_attn import MSDeformAttention, level_reference_points


class FFN(nn.Module):
    """Two linear layers with an activation, residual and post-norm.

    Args:
        embed_dims (int): Input/output channels.
        ffn_channels (int): Hidden channels.
        dropout (float): Dropout after the activation and on the residual.
        act_cfg (dict): Activation, e.g. ``dict(type='ReLU')`` (paper) or
            ``dict(type='GELU')`` (release).
    """

    def __init__(self, embed_dims: int, ffn_channels: int, dropout: float,
                 act_cfg: dict):
        super().__init__()
        self.linear1 = nn.Linear(embed_dims, ffn_channels)
        self.activation = build_activation_layer(act_cfg)
        self.dropout_hidden = nn.Dropout(dropout)
        self.linear2 = nn.Linear(ffn_channels, embed_dims)
        self.dropout_out = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        """[N, L, C] -> [N, L, C] (without the norm: the layer owns it)."""
        hidden = self.dropout_hidden(self.activation(self.linear1(x)))
        return x + self.dropout_out(self.linear2(hidden))


class DeformableEncoderLayer(BaseModule):
    """Deformable self-attention + FFN, each followed by residual and norm.

    Args:
        embed_dims (int): Token channels. Defaults to 256.
        num_heads (int): Attention heads. Defaults to 8.
        num_levels (int): Feature levels. Defaults to 3.
        num_points (int): Sampling points per head and level. Defaults to 4.
        ffn_channels (int): FFN hidden channels. Defaults to 2048.
        dropout (float): Dropout rate. Defaults to 0.1.
        act_cfg (dict): FFN activation. Defaults to ReLU.
        kernel (str, optional): Deformable-attention kernel, ``'auto'``
            (None), ``'compiled'``, ``'triton'`` or ``'pytorch'``; see
            :func:`mmavs.ops.select_kernel`.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 embed_dims: int = 256,
                 num_heads: int = 8,
                 num_levels: int = 3,
                 num_points: int = 4,
                 ffn_channels: int = 2048,
                 dropout: float = 0.1,
                 act_cfg: dict = dict(type='ReLU'),
                 kernel: Optional[str] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.self_attn = MSDeformAttention(
            embed_dims, num_heads, num_levels, num_points, kernel=kernel)
        self.dropout1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, ffn_channels, dropout, act_cfg)
        self.norm2 = nn.LayerNorm(embed_dims)

    def forward(self, src: Tensor, pos: Tensor, reference_points: Tensor,
                spatial_shapes: Sequence[Tuple[int, int]]) -> Tensor:
        """Refine the multi-scale tokens.

        Args:
            src (Tensor): [N, L, C] tokens of all levels.
            pos (Tensor): [N or 1, L, C] positional + level embedding.
            reference_points (Tensor): [1, L, num_levels, 2].
            spatial_shapes (Sequence[tuple[int, int]]): (h, w) per level.

        Returns:
            Tensor: [N, L, C].
        """
        attended = self.self_attn(src + pos, src, reference_points,
                                  spatial_shapes)
        src = self.norm1(src + self.dropout1(attended))
        return self.norm2(self.ffn(src))


class DeformableEncoder(BaseModule):
    """A stack of :class:`DeformableEncoderLayer` over flattened levels.

    Args:
        num_layers (int): Number of layers. Defaults to 6.
        layer_cfg (dict): Keyword arguments of every layer.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 num_layers: int = 6,
                 layer_cfg: dict = dict(),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.layers = nn.ModuleList(
            [DeformableEncoderLayer(**layer_cfg) for _ in range(num_layers)])
        self.num_levels = layer_cfg.get('num_levels', 3)

    def forward(self, src: Tensor, pos: Tensor,
                spatial_shapes: List[Tuple[int, int]]) -> Tensor:
        """Run all layers.

        Args:
            src (Tensor): [N, L, C] flattened tokens, L = sum(h_i * w_i).
            pos (Tensor): [N or 1, L, C] positional + level embedding.
            spatial_shapes (list[tuple[int, int]]): (h, w) per level.

        Returns:
            Tensor: [N, L, C] encoder memory.
        """
        reference_points = level_reference_points(
            spatial_shapes, self.num_levels, src.device, src.dtype)
        for layer in self.layers:
            src = layer(src, pos, reference_points, spatial_shapes)
        return src


def attention_logits(attn: nn.MultiheadAttention, query: Tensor,
                     key: Tensor) -> Tensor:
    """Head-averaged attention logits ``Q K^T / sqrt(d_head)``.

    The mean over heads of the per-head logits equals the full-width dot
    product of the projected query and key divided by
    ``num_heads * sqrt(d_head)``, so one batched matrix product suffices.

    Args:
        attn (nn.MultiheadAttention): The attention whose input projections
            are used (packed ``in_proj_weight``).
        query (Tensor): [N, Q, C].
        key (Tensor): [N, K, C].

    Returns:
        Tensor: [N, Q, K] logits before the softmax.
    """
    dims = attn.embed_dim
    weight = attn.in_proj_weight
    bias = attn.in_proj_bias
    q = F.linear(query, weight[:dims],
                 None if bias is None else bias[:dims])
    k = F.linear(key, weight[dims:2 * dims],
                 None if bias is None else bias[dims:2 * dims])
    scale = attn.num_heads * (dims // attn.num_heads)**0.5
    return torch.bmm(q, k.transpose(1, 2)) / scale


class QueryDecoderLayer(BaseModule):
    """Self-attention, cross-attention to the memory and FFN (post-norm).

    Attention is ``nn.MultiheadAttention`` without weights output, which runs
    on ``scaled_dot_product_attention`` (fused kernels on GPU).

    Args:
        embed_dims (int): Channels. Defaults to 256.
        num_heads (int): Attention heads. Defaults to 8.
        ffn_channels (int): FFN hidden channels. Defaults to 2048.
        dropout (float): Dropout rate. Defaults to 0.1.
        act_cfg (dict): FFN activation. Defaults to ReLU.
        attn_bias (bool): Bias of the attention projections. Defaults to True.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 embed_dims: int = 256,
                 num_heads: int = 8,
                 ffn_channels: int = 2048,
                 dropout: float = 0.1,
                 act_cfg: dict = dict(type='ReLU'),
                 attn_bias: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.self_attn = nn.MultiheadAttention(
            embed_dims, num_heads, dropout=dropout, bias=attn_bias,
            batch_first=True)
        self.dropout1 = nn.Dropout(dropout)
        self.norm1 = nn.LayerNorm(embed_dims)
        self.cross_attn = nn.MultiheadAttention(
            embed_dims, num_heads, dropout=dropout, bias=attn_bias,
            batch_first=True)
        self.dropout2 = nn.Dropout(dropout)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.ffn = FFN(embed_dims, ffn_channels, dropout, act_cfg)
        self.norm3 = nn.LayerNorm(embed_dims)

    def forward(self,
                query: Tensor,
                memory: Tensor,
                return_attn_logits: bool = False
                ) -> Tuple[Tensor, Optional[Tensor]]:
        """Update the queries.

        Args:
            query (Tensor): [N, Q, C].
            memory (Tensor): [N, L, C] encoder memory.
            return_attn_logits (bool): Also return the head-averaged
                cross-attention logits (for the intermediate mask loss).

        Returns:
            tuple[Tensor, Tensor | None]: queries [N, Q, C] and logits
            [N, Q, L] or None.
        """
        attended = self.self_attn(query, query, query, need_weights=False)[0]
        query = self.norm1(query + self.dropout1(attended))
        logits = None
        if return_attn_logits:
            logits = attention_logits(self.cross_attn, query, memory)
        attended = self.cross_attn(
            query, memory, memory, need_weights=False)[0]
        query = self.norm2(query + self.dropout2(attended))
        return self.norm3(self.ffn(query)), logits


class QueryDecoder(BaseModule):
    """A stack of :class:`QueryDecoderLayer`; returns every layer's output.

    Args:
        num_layers (int): Number of layers. Defaults to 6.
        layer_cfg (dict): Keyword arguments of every layer.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 num_layers: int = 6,
                 layer_cfg: dict = dict(),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        self.layers = nn.ModuleList(
            [QueryDecoderLayer(**layer_cfg) for _ in range(num_layers)])

    def forward(self,
                query: Tensor,
                memory: Tensor,
                return_attn_logits: bool = False
                ) -> Tuple[List[Tensor], List[Tensor]]:
        """Decode.

        Args:
            query (Tensor): [N, Q, C] initial queries.
            memory (Tensor): [N, L, C] encoder memory.
            return_attn_logits (bool): Collect each layer's cross-attention
                logits.

        Returns:
            tuple[list[Tensor], list[Tensor]]: per-layer queries [N, Q, C]
            and (when asked) per-layer logits [N, Q, L], else an empty list.
        """
        outputs, logits = [], []
        for layer in self.layers:
            query, layer_logits = layer(query, memory, return_attn_logits)
            outputs.append(query)
            if layer_logits is not None:
                logits.append(layer_logits)
        return outputs, logits
