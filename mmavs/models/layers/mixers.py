# Copyright (c) mmavs contributors. All rights reserved.
"""Audio-visual mixers: let the audio re-weight the mask feature."""
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class ChannelAttentionMixer(BaseModule):
    """Channel-attention mixer (CHA, paper Fig. 4b and Eq. 2).

    The audio token is the query and the flattened mask feature the keys and
    values of a multi-head attention; its output, projected to C channel
    weights ``w``, scales the mask feature channel-wise:

    - paper: ``F_hat = F + F * w`` (``residual=True, use_sigmoid=False``)
    - release: ``F_hat = F * sigmoid(w)`` (``residual=False,
      use_sigmoid=True``)

    Args:
        embed_dims (int): Channels C. Defaults to 256.
        num_heads (int): Heads; the scale is ``(C / num_heads) ** -0.5``.
            Defaults to 8.
        qkv_bias (bool): Bias of the query/key/value projections. Defaults to
            False.
        use_sigmoid (bool): Squash ``w`` with a sigmoid. Defaults to False.
        residual (bool): Add the input back. Defaults to True.
    """

    def __init__(self,
                 embed_dims: int = 256,
                 num_heads: int = 8,
                 qkv_bias: bool = False,
                 use_sigmoid: bool = False,
                 residual: bool = True,
                 init_cfg=None):
        super().__init__(init_cfg)
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims={embed_dims} is not divisible by '
                             f'num_heads={num_heads}')
        self.num_heads = num_heads
        self.use_sigmoid = use_sigmoid
        self.residual = residual
        self.q_proj = nn.Linear(embed_dims, embed_dims, bias=qkv_bias)
        self.kv_proj = nn.Linear(embed_dims, 2 * embed_dims, bias=qkv_bias)
        self.proj = nn.Linear(embed_dims, embed_dims)

    def forward(self, feature: Tensor, audio: Tensor) -> Tensor:
        """Mix.

        Args:
            feature (Tensor): [N, C, h, w] mask feature.
            audio (Tensor): [N, 1, C] audio token.

        Returns:
            Tensor: [N, C, h, w].
        """
        num, channels = feature.shape[:2]
        head_dims = channels // self.num_heads
        tokens = feature.flatten(2).transpose(1, 2)
        q = self.q_proj(audio).view(num, 1, self.num_heads,
                                    head_dims).transpose(1, 2)
        k, v = self.kv_proj(tokens).view(num, -1, 2, self.num_heads,
                                         head_dims).permute(2, 0, 3, 1,
                                                            4).unbind(0)
        attended = F.scaled_dot_product_attention(q, k, v)
        weights = self.proj(attended.transpose(1, 2).reshape(num, channels))
        if self.use_sigmoid:
            weights = weights.sigmoid()
        mixed = feature * weights[:, :, None, None]
        return feature + mixed if self.residual else mixed


@MODELS.register_module()
class CrossAttentionMixer(BaseModule):
    """Cross-attention mixer (CRA, paper Fig. 4a).

    Every pixel of the mask feature is a query attending to the audio token;
    the attention output is added back to the feature and normalised. With
    a single audio token the softmax is trivially 1, so the mixer adds an
    audio-dependent bias to every pixel - the paper found it weaker than CHA.

    Args:
        embed_dims (int): Channels C. Defaults to 256.
        num_heads (int): Heads. Defaults to 8.
        dropout (float): Attention dropout. Defaults to 0.
    """

    def __init__(self,
                 embed_dims: int = 256,
                 num_heads: int = 8,
                 dropout: float = 0.0,
                 init_cfg=None):
        super().__init__(init_cfg)
        self.attn = nn.MultiheadAttention(
            embed_dims, num_heads, dropout=dropout, batch_first=True)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, feature: Tensor, audio: Tensor) -> Tensor:
        """[N, C, h, w] feature, [N, 1, C] audio -> [N, C, h, w]."""
        num, channels, height, width = feature.shape
        tokens = feature.flatten(2).transpose(1, 2)
        attended = self.attn(tokens, audio, audio, need_weights=False)[0]
        tokens = self.norm(tokens + attended)
        return tokens.transpose(1, 2).reshape(num, channels, height, width)
