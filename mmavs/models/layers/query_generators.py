# Copyright (c) mmavs contributors. All rights reserved.
"""How AVSegFormer turns the audio feature into decoder queries."""
import torch.nn as nn
from mmcv.cnn import build_activation_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class RepeatAudioQuery(BaseModule):
    """Audio queries of the paper: the audio feature repeated N_query times.

    Args:
        num_queries (int): Number of queries. Defaults to 300.
        embed_dims (int): Channels (checked against the input). Defaults to
            256.
    """

    def __init__(self, num_queries: int = 300, embed_dims: int = 256):
        super().__init__()
        self.num_queries = num_queries
        self.embed_dims = embed_dims

    def forward(self, audio: Tensor) -> Tensor:
        """[N, 1, C] audio token -> [N, num_queries, C] queries."""
        return audio.expand(-1, self.num_queries, -1)


class _QueryGeneratorLayer(nn.Module):
    """Self-attention, cross-attention to the audio token, FFN; post-norm,
    attention without bias and no dropout, as in the release."""

    def __init__(self, embed_dims: int, num_heads: int, ffn_channels: int,
                 act_cfg: dict):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(
            embed_dims, num_heads, bias=False, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(
            embed_dims, num_heads, bias=False, batch_first=True)
        self.ffn = nn.Sequential(
            nn.Linear(embed_dims, ffn_channels),
            build_activation_layer(act_cfg),
            nn.Linear(ffn_channels, embed_dims))
        self.norm1 = nn.LayerNorm(embed_dims)
        self.norm2 = nn.LayerNorm(embed_dims)
        self.norm3 = nn.LayerNorm(embed_dims)

    def forward(self, query: Tensor, audio: Tensor) -> Tensor:
        query = self.norm1(
            query + self.self_attn(query, query, query, need_weights=False)[0])
        attended = self.cross_attn(query, audio, audio, need_weights=False)[0]
        query = self.norm2(query + attended)
        return self.norm3(query + self.ffn(query))


@MODELS.register_module()
class AttentionQueryGenerator(BaseModule):
    """The public release's query generator (not in the paper).

    N_query learned embeddings attend to themselves and to the audio token in
    ``num_layers`` layers; the result replaces the repeated audio feature.

    Args:
        num_queries (int): Number of queries. Defaults to 300.
        embed_dims (int): Channels. Defaults to 256.
        num_heads (int): Attention heads. Defaults to 8.
        num_layers (int): Layers. Defaults to 6.
        ffn_channels (int): FFN hidden channels. Defaults to 1024.
        act_cfg (dict): FFN activation. Defaults to GELU (release).
        init_cfg (dict, optional): Initialisation config; defaults to Xavier
            uniform on every weight matrix, as the release initialises it.
    """

    def __init__(self,
                 num_queries: int = 300,
                 embed_dims: int = 256,
                 num_heads: int = 8,
                 num_layers: int = 6,
                 ffn_channels: int = 1024,
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg=None):
        super().__init__(init_cfg)
        self.num_queries = num_queries
        self.embed_dims = embed_dims
        self.query = nn.Embedding(num_queries, embed_dims)
        self.layers = nn.ModuleList([
            _QueryGeneratorLayer(embed_dims, num_heads, ffn_channels, act_cfg)
            for _ in range(num_layers)
        ])

    def init_weights(self) -> None:
        """Xavier-uniform init of all matrices (as the release)."""
        super().init_weights()
        if self.init_cfg is None:
            for param in self.parameters():
                if param.dim() > 1:
                    nn.init.xavier_uniform_(param)

    def forward(self, audio: Tensor) -> Tensor:
        """[N, 1, C] audio token -> [N, num_queries, C] queries."""
        query = self.query.weight[None].expand(audio.shape[0], -1, -1)
        for layer in self.layers:
            query = layer(query, audio)
        return query
