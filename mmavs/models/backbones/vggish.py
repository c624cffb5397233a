# Copyright (c) mmavs contributors. All rights reserved.
"""VGGish audio backbone (Hershey et al., 2017), as AVSBench uses it."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

# (out_channels, followed_by_pool) per 3x3 convolution; the Sequential
# indices (0, 3, 6, 8, 11, 13) match the torchvggish port's weight names.
_VGGISH_CONVS = ((64, True), (128, True), (256, False), (256, True),
                 (512, False), (512, True))


@MODELS.register_module()
class VGGish(BaseModule):
    """VGGish: log-mel examples [N, 1, 96, 64] -> embeddings [N, 128].

    Four convolution blocks (64, 128, 2x256, 2x512 channels, 3x3, ReLU,
    2x2 max-pooling) and three fully connected layers (12288 -> 4096 -> 4096
    -> 128), each followed by ReLU; the output is taken after the last ReLU,
    as AVSBench does. The flatten before the FC layers is in (H, W, C)
    order, the order of the original TensorFlow model whose weights the
    torchvggish port carries (convert them with
    ``tools/model_converters/vggish2mmavs.py``).

    Inputs whose last dimension equals ``out_channels`` ([N, 128]) are taken
    to be precomputed embeddings and returned unchanged, so data sets with
    cached features skip the network.

    Args:
        frozen (bool): Freeze all parameters and keep the module in eval mode
            (AVSBench/AVSegFormer never train VGGish). Defaults to True.
        use_pca (bool): Apply the AudioSet PCA + 8-bit quantisation
            post-processor (buffers ``pca_eigen_vectors`` [128, 128] and
            ``pca_means`` [128, 1] must then be loaded). AVSBench does not.
            Defaults to False.
        init_cfg (dict, optional): E.g. ``dict(type='Pretrained',
            checkpoint='vggish_mmavs.pth')``.
    """

    out_channels = 128

    def __init__(self,
                 frozen: bool = True,
                 use_pca: bool = False,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        layers, in_channels = [], 1
        for channels, pool in _VGGISH_CONVS:
            layers += [
                nn.Conv2d(in_channels, channels, 3, padding=1),
                nn.ReLU(inplace=True)
            ]
            if pool:
                layers.append(nn.MaxPool2d(2, 2))
            in_channels = channels
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 6 * 4, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, self.out_channels), nn.ReLU(inplace=True))
        self.use_pca = use_pca
        if use_pca:
            self.register_buffer('pca_eigen_vectors', torch.eye(128))
            self.register_buffer('pca_means', torch.zeros(128, 1))
        self.frozen = frozen
        if frozen:
            self.requires_grad_(False)

    def train(self, mode: bool = True) -> 'VGGish':
        """Stay in eval mode when frozen."""
        return super().train(mode and not self.frozen)

    def postprocess(self, embeddings: Tensor) -> Tensor:
        """PCA-whiten and quantise embeddings to [0, 255] (AudioSet
        release format). [N, 128] -> [N, 128]."""
        projected = (self.pca_eigen_vectors @
                     (embeddings.t() - self.pca_means)).t()
        clipped = projected.clamp(-2.0, 2.0)
        return torch.round((clipped + 2.0) * (255.0 / 4.0))

    def forward(self, x: Tensor) -> Tensor:
        """Embed log-mel examples.

        Args:
            x (Tensor): [N, 1, 96, 64] log-mel examples, or [N, 128]
                precomputed embeddings (returned as they are).

        Returns:
            Tensor: [N, 128].
        """
        if x.dim() == 2 and x.shape[-1] == self.out_channels:
            return x
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, 96, 64):
            raise ValueError('VGGish expects log-mel examples [N, 1, 96, 64] '
                             'or embeddings [N, 128], got '
                             f'{tuple(x.shape)}')
        if self.frozen:
            with torch.no_grad():
                return self._embed(x)
        return self._embed(x)

    def _embed(self, x: Tensor) -> Tensor:
        x = self.features(x)
        embeddings = self.embeddings(x.permute(0, 2, 3, 1).flatten(1))
        return self.postprocess(embeddings) if self.use_pca else embeddings
