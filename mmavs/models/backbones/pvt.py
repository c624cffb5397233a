# Copyright (c) mmavs contributors. All rights reserved.
"""PVTv2 with the LayerNorm eps of the original PVT code."""
from typing import Optional

from mmdet.models.backbones.pvt import (PyramidVisionTransformerV2,
                                        SpatialReductionAttention)
from mmseg.registry import MODELS


@MODELS.register_module()
class OriginalPVTv2(PyramidVisionTransformerV2):
    """mmdet's ``PyramidVisionTransformerV2`` with the original PVTv2 code's
    LayerNorm eps, for checkpoints trained with that code.

    mmdet builds every LayerNorm of PVTv2 from one ``norm_cfg`` (LN, eps
    1e-6). The original PVTv2 code (whai362/PVT, which the AVSegFormer
    release copies) passes eps 1e-6 only to the transformer blocks'
    ``norm1`` / ``norm2`` and to the norm after each stage; the
    patch-embedding norms and the spatial-reduction attention norms are
    plain ``nn.LayerNorm`` with PyTorch's default eps 1e-5. With the same
    weights the two differ slightly in their outputs (about 2e-5 of the
    AVSegFormer logits' scale with random weights). This class builds
    mmdet's backbone and sets those two kinds of norms to the original
    eps, so the module names, parameters, ``pvt_convert`` loading and
    ``forward`` are mmdet's own.

    Args:
        patch_embed_norm_eps (float, optional): eps of the LayerNorm of each
            stage's patch embedding (``layers.{i}.0.norm``). None keeps
            ``norm_cfg``'s. Defaults to 1e-5 (original PVTv2).
        sr_norm_eps (float, optional): eps of the LayerNorm after the
            spatial-reduction convolution of each attention with
            ``sr_ratio > 1`` (``layers.{i}.1.{j}.attn.norm``). None keeps
            ``norm_cfg``'s. Defaults to 1e-5 (original PVTv2).
        **kwargs: The arguments of mmdet's ``PyramidVisionTransformerV2``
            (``embed_dims``, ``num_layers``, ``num_heads``, ``sr_ratios``,
            ``norm_cfg`` (defaults to LN with eps 1e-6, which the blocks'
            ``norm1`` / ``norm2`` and the stage norms keep), ``init_cfg``,
            ...).
    """

    def __init__(self,
                 patch_embed_norm_eps: Optional[float] = 1e-5,
                 sr_norm_eps: Optional[float] = 1e-5,
                 **kwargs):
        super().__init__(**kwargs)
        for patch_embed, blocks, _ in self.layers:
            if patch_embed_norm_eps is not None:
                patch_embed.norm.eps = patch_embed_norm_eps
            if sr_norm_eps is None:
                continue
            for module in blocks.modules():
                if isinstance(module, SpatialReductionAttention) and \
                        module.sr_ratio > 1:
                    module.norm.eps = sr_norm_eps
