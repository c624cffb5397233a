# Copyright (c) mmavs contributors. All rights reserved.
"""Audio backbones for models trained without AudioSet weights: a light
trainable CNN on the VGGish log-mel examples, and a pass-through for
precomputed features."""
import math
from typing import Optional, Sequence

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType
from torch import Tensor

# The log-mel example layout every mmavs audio pipeline produces:
# [1, 96 STFT frames (time), 64 mel bands].
from mmavs.datasets.audio import EXAMPLE_SHAPE as LOG_MEL_SHAPE


@MODELS.register_module()
class LightAudioEncoder(BaseModule):
    """A small trainable CNN: log-mel examples [N, 1, 96, 64] -> [N, C].

    A drop-in for :class:`~mmavs.models.VGGish` (same input, same output
    contract: one C-vector per example, which the segmentor reshapes to
    [B, T, C]) with 0.25M parameters instead of 72M, meant to be
    trained with the rest of the model when no AudioSet weights exist.

    .. code:: text

        x [N, 1, 96, 64]                     (time, mel)
          L blocks (len(channels)):          conv3x3-norm-ReLU, maxpool
                                             2 x freq_pooling[i]
                                             -> [N, C_L, 96/2^L, 64/prod(p)]
          mean over time                     -> [N, C_L, 64/prod(p)]
          flatten, Linear                    -> [N, out_channels]

    Only time is pooled globally: a tone's mel band is what tells sounds
    apart, and a global mean over frequency too would leave only what the
    convolutions' zero padding encodes about where the energy sits. How
    finely the pitch survives is set by ``freq_pooling``: with the default
    every block halves frequency too and 4 bands of 16 mel bins reach the
    Linear layer; ``(2, 2, 1, 1)`` keeps 16 bands of 4 bins, which tells
    apart sounds a few mel bins from each other (close pitches) at the cost
    of a larger Linear layer.

    Args:
        channels (Sequence[int]): Output channels of the conv blocks; each
            block halves time (and frequency, as ``freq_pooling`` says).
            Defaults to (32, 64, 96, 128)
            (250,912 parameters with ``out_channels=128``).
        freq_pooling (Sequence[int], optional): Frequency pooling factor of
            each block, 1 or 2 (time is always halved). Defaults to None: 2
            in every block. ``(2, 2, 1, 1)`` gives 447,520 parameters with
            the default channels.
        out_channels (int): Feature width C; the head's (or TPAVI's)
            ``audio_channels`` must equal it. Defaults to 128 (VGGish's).
        norm_cfg (dict): Norm of the conv blocks. Defaults to BN, which
            keeps the absolute level of a sound (silence stays recognisable;
            a per-example norm such as GN would rescale it); it works with
            one example, since it pools over time and frequency too.
        act_cfg (dict): Activation of the conv blocks. Defaults to ReLU.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to None (PyTorch's default init).
    """

    def __init__(self,
                 channels: Sequence[int] = (32, 64, 96, 128),
                 out_channels: int = 128,
                 freq_pooling: Optional[Sequence[int]] = None,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(type='ReLU'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        channels = [int(c) for c in channels]
        time, freq = LOG_MEL_SHAPE[1:]
        if not channels or min(channels) < 1:
            raise ValueError(f'channels must be positive, got {channels}')
        if freq_pooling is None:
            freq_pooling = [2] * len(channels)
        freq_pooling = [int(p) for p in freq_pooling]
        if len(freq_pooling) != len(channels) or not set(freq_pooling) <= {
                1, 2
        }:
            raise ValueError(
                'freq_pooling must give 1 or 2 for each of the '
                f'{len(channels)} blocks, got {freq_pooling}')
        freq_stride = math.prod(freq_pooling)
        if time % 2**len(channels) or freq % freq_stride:
            raise ValueError(f'{len(channels)} blocks cannot pool the '
                             f'{time}x{freq} log-mel example evenly')
        self.out_channels = int(out_channels)
        blocks, in_channels = [], LOG_MEL_SHAPE[0]
        for width, factor in zip(channels, freq_pooling):
            blocks.append(
                nn.Sequential(
                    ConvModule(
                        in_channels,
                        width,
                        3,
                        padding=1,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg), nn.MaxPool2d((2, factor))))
            in_channels = width
        self.blocks = nn.Sequential(*blocks)
        self.proj = nn.Linear(in_channels * (freq // freq_stride),
                              self.out_channels)

    def forward(self, x: Tensor) -> Tensor:
        """Embed log-mel examples.

        Args:
            x (Tensor): [N, 1, 96, 64] log-mel examples.

        Returns:
            Tensor: [N, out_channels] features.
        """
        if x.dim() != 4 or tuple(x.shape[1:]) != LOG_MEL_SHAPE:
            raise ValueError(
                'LightAudioEncoder expects log-mel examples [N, 1, 96, 64], '
                f'got {tuple(x.shape)} (for precomputed features use '
                'PrecomputedAudioFeatures or VGGish)')
        x = self.blocks(x).mean(2)  # [N, C_L, F]: time pooled
        return self.proj(x.flatten(1))


@MODELS.register_module()
class PrecomputedAudioFeatures(BaseModule):
    """The audio backbone of a model fed precomputed features [N, C].

    Validates the width and returns the features as they are, without
    building (or loading weights into) the network that computed them: the
    data sets read them with ``audio_source='feature'`` (e.g. VGGish
    embeddings from
    ``tools/dataset_converters/extract_vggish_features.py``).

    Args:
        in_channels (int): Feature width C (= ``out_channels``). Defaults
            to 128 (VGGish).
        init_cfg (dict, optional): Unused (no parameters).
    """

    def __init__(self,
                 in_channels: int = 128,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.out_channels = int(in_channels)

    def forward(self, x: Tensor) -> Tensor:
        """Check and return the features.

        Args:
            x (Tensor): [N, C] features.

        Returns:
            Tensor: The same tensor.
        """
        if x.dim() != 2 or x.shape[1] != self.out_channels:
            raise ValueError(
                f'PrecomputedAudioFeatures expects features [N, '
                f'{self.out_channels}], got {tuple(x.shape)}; log-mel '
                "examples need a network (VGGish, LightAudioEncoder) or "
                "the data sets' audio_source='feature'")
        return x
