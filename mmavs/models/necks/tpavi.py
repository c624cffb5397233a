# Copyright (c) mmavs contributors. All rights reserved.
"""TPAVI: temporal pixel-wise audio-visual interaction (Zhou et al., 2022)."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule, ModuleDict
from mmseg.registry import MODELS
from mmseg.utils import ConfigType
from torch import Tensor


class TPAVIBlock(BaseModule):
    """One TPAVI block: audio-guided non-local ("dot") attention over the
    T x H x W positions of a clip, zero-initialised output, residual and
    layer norm.

    With ``x_i`` the visual feature at position ``i`` of the clip and ``a_t``
    the projected audio of frame ``t`` (broadcast over H x W, as in the
    AVSBench release):

    .. code:: text

        a_t  = audio_proj(audio_t)                       [C]
        y_i  = 1 / (T*H*W) * sum_j (theta(x_i) . phi(a_t(j))) g(x_j)
        z_i  = LayerNorm(x_i + BN(W_z(y_i)))

    ``theta``, ``g`` and ``W_z`` are 1x1 convolutions and ``phi`` a linear
    map (a 1x1 convolution of a spatially constant input), with
    ``C' = inter_channels``. Because ``phi(a)`` only depends on the frame
    ``t(j)``, the sum factorises into ``1/T sum_t (theta(x_i) . phi(a_t))
    mean_hw(g(x_t))``: the [THW x THW] affinity matrix of the release (about
    1 GB per clip at 56 x 56 x 5) is never formed, and the result is the same
    up to float rounding.

    The BN after ``W_z`` starts with zero weight and bias, so at
    initialisation the attention branch is exactly zero and the block returns
    ``LayerNorm(x)`` (``x`` itself without the layer norm).

    Args:
        in_channels (int): Visual channels C.
        audio_channels (int): Audio feature channels (VGGish: 128).
        inter_channels (int, optional): C'. Defaults to ``max(C // 2, 1)``.
        audio_bias (bool): Bias in the audio projection (True in the S4/MS3
            release, False in the AVSS release).
        use_layer_norm (bool): Layer norm over the channels after the
            residual (as released). Defaults to True.
        norm_cfg (dict): Norm after ``W_z``. Defaults to BN (the release's
            BatchNorm3d over [B, C, T, H, W] has the same statistics as a
            BatchNorm2d over [B*T, C, H, W]).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int,
                 audio_channels: int = 128,
                 inter_channels: Optional[int] = None,
                 audio_bias: bool = True,
                 use_layer_norm: bool = True,
                 norm_cfg: ConfigType = dict(type='BN'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.inter_channels = inter_channels or max(in_channels // 2, 1)
        self.audio_proj = nn.Linear(
            audio_channels, in_channels, bias=audio_bias)
        self.theta = nn.Conv2d(in_channels, self.inter_channels, 1)
        self.phi = nn.Linear(in_channels, self.inter_channels)
        self.g = nn.Conv2d(in_channels, self.inter_channels, 1)
        self.out_conv = nn.Conv2d(self.inter_channels, in_channels, 1)
        self.out_norm = build_norm_layer(norm_cfg, in_channels)[1]
        self.layer_norm = nn.LayerNorm(in_channels) if use_layer_norm \
            else None
        self._zero_init_output()

    def _zero_init_output(self) -> None:
        nn.init.constant_(self.out_norm.weight, 0)
        nn.init.constant_(self.out_norm.bias, 0)

    def init_weights(self) -> None:
        """Apply ``init_cfg`` and then re-zero the output norm.

        A parent's ``init_cfg`` (e.g. a constant init of every ``_BatchNorm``)
        runs before this method, so the zero init that makes the block an
        identity at the start of training survives it.
        """
        super().init_weights()
        self._zero_init_output()

    def forward(self, x: Tensor, audio: Tensor) -> Tuple[Tensor, Tensor]:
        """Fuse one level.

        Args:
            x (Tensor): Visual features [B*T, C, H, W], clip major.
            audio (Tensor): Audio features [B, T, C_a].

        Returns:
            tuple[Tensor, Tensor]: Fused features [B*T, C, H, W] and the
            projected audio [B, T, C] (used by the audio-visual matching
            loss).
        """
        batch, frames = audio.shape[:2]
        if x.shape[0] != batch * frames:
            raise ValueError(f'{x.shape[0]} visual frames for audio of shape '
                             f'{tuple(audio.shape)} (expected B*T frames)')
        _, channels, height, width = x.shape
        audio_proj = self.audio_proj(audio)  # [B, T, C]
        theta = self.theta(x).reshape(batch, frames, self.inter_channels,
                                      height * width)
        theta = theta.permute(0, 1, 3, 2).reshape(
            batch, frames * height * width, self.inter_channels)
        phi = self.phi(audio_proj)  # [B, T, C']
        g_mean = self.g(x).mean((2, 3)).reshape(batch, frames,
                                                self.inter_channels)
        # sum over the H*W positions of frame t, divided by the T*H*W
        # positions of the release's "dot" normalisation -> 1/T after the
        # spatial mean.
        affinity = torch.matmul(theta, phi.transpose(1, 2)) / frames
        y = torch.matmul(affinity, g_mean)  # [B, T*H*W, C']
        y = y.reshape(batch * frames, height, width,
                      self.inter_channels).permute(0, 3, 1, 2)
        z = x + self.out_norm(self.out_conv(y.contiguous()))
        if self.layer_norm is not None:
            z = self.layer_norm(z.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        return z.contiguous(), audio_proj


@MODELS.register_module()
class TPAVI(BaseModule):
    """TPAVI audio-visual fusion on multi-scale visual features (the
    AVSBench baseline's fusion, Zhou et al., ECCV 2022).

    A neck (``takes_audio = True``) for any backbone: for every level listed
    in ``stages`` a :class:`TPAVIBlock` fuses the audio into the features;
    the other levels pass through unchanged. Channels and sizes never change,
    so any decode head that fits the backbone fits behind it. The attention
    spans all T frames of a clip (``temporal = True``); T is read from the
    audio features [B, T, C_a].

    The AVSBench baseline itself applies TPAVI to its decoder's 256-channel
    maps; :class:`~mmavs.models.AVSBenchHead` builds this class internally
    for that (its ``fusion`` argument).

    Args:
        in_channels (Sequence[int]): Channels of every level.
        stages (Sequence[int]): Levels that get a TPAVI block. Defaults to
            all four (as released).
        audio_channels (int): Audio feature channels. Defaults to 128.
        inter_channels (Sequence[int], optional): Inner width per level.
            Defaults to half of each level's channels (as released).
        audio_bias (bool): Bias in the audio projections. Defaults to True
            (S4/MS3 release; the AVSS release has none).
        use_layer_norm (bool): Layer norm after the residual. Defaults to
            True (as released); False makes the module an exact identity at
            initialisation.
        window_frames (int, optional): Attend within consecutive windows of
            this many frames instead of the whole clip. The AVSS release
            reshapes its 10-frame clips into two windows of 5, so the padded
            second half of a 5-frame v1s/v1m clip never mixes with the real
            frames. A clip of at most ``window_frames`` frames is one window;
            a longer one must be a multiple. Defaults to None (whole clip).
        norm_cfg (dict): Norm after each block's output conv. Defaults to BN.
        init_cfg (dict, optional): Initialisation config.
    """

    takes_audio = True
    temporal = True

    def __init__(self,
                 in_channels: Sequence[int],
                 stages: Sequence[int] = (0, 1, 2, 3),
                 audio_channels: int = 128,
                 inter_channels: Optional[Sequence[int]] = None,
                 audio_bias: bool = True,
                 use_layer_norm: bool = True,
                 window_frames: Optional[int] = None,
                 norm_cfg: ConfigType = dict(type='BN'),
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = list(in_channels)
        self.stages = sorted(set(int(s) for s in stages))
        if not self.stages or not all(
                0 <= s < len(self.in_channels) for s in self.stages):
            raise ValueError(f'stages {list(stages)} must be a non-empty '
                             f'subset of 0..{len(self.in_channels) - 1}')
        if inter_channels is not None and len(inter_channels) != len(
                self.in_channels):
            raise ValueError('inter_channels needs one entry per level')
        if window_frames is not None and window_frames < 1:
            raise ValueError(f'window_frames must be >= 1, got '
                             f'{window_frames}')
        self.window_frames = window_frames
        # mmengine's ModuleDict passes init_weights() on to the blocks, which
        # re-zero their output norms after any parent init_cfg.
        self.blocks = ModuleDict({
            str(stage): TPAVIBlock(
                self.in_channels[stage],
                audio_channels=audio_channels,
                inter_channels=None if inter_channels is None else
                inter_channels[stage],
                audio_bias=audio_bias,
                use_layer_norm=use_layer_norm,
                norm_cfg=norm_cfg)
            for stage in self.stages
        })

    def _windows(self, audio: Tensor) -> Tensor:
        """[B, T, C_a] -> [B * T / w, w, C_a] for the attention windows."""
        if audio.dim() != 3:
            raise ValueError('TPAVI needs audio features [B, T, C_a] to know '
                             f'the clip length, got {tuple(audio.shape)}')
        frames = audio.shape[1]
        if self.window_frames is None or frames <= self.window_frames:
            return audio
        if frames % self.window_frames:
            raise ValueError(f'{frames} frames cannot be split into windows '
                             f'of window_frames={self.window_frames}')
        return audio.reshape(-1, self.window_frames, audio.shape[-1])

    def fuse(self, visual_feats: Sequence[Tensor], audio_feats: Tensor
             ) -> Tuple[List[Tensor], List[Optional[Tensor]]]:
        """Fuse every selected level and also return the projected audio.

        Args:
            visual_feats (Sequence[Tensor]): One [B*T, C_i, H_i, W_i] tensor
                per level, clip major.
            audio_feats (Tensor): Audio features [B, T, C_a].

        Returns:
            tuple[list[Tensor], list[Tensor | None]]: The features (fused
            levels replaced) and, per level, the projected audio [B*T, C_i]
            (None for levels without a block).
        """
        if len(visual_feats) != len(self.in_channels):
            raise ValueError(f'{len(visual_feats)} feature levels for '
                             f'in_channels {self.in_channels}')
        audio = self._windows(audio_feats)
        outs, audio_outs = list(visual_feats), [None] * len(visual_feats)
        for stage in self.stages:
            fused, audio_proj = self.blocks[str(stage)](outs[stage], audio)
            outs[stage] = fused
            audio_outs[stage] = audio_proj.flatten(0, 1)
        return outs, audio_outs

    def forward(self, inputs: Tuple[Sequence[Tensor], Tensor]
                ) -> Tuple[Tensor, ...]:
        """Neck interface.

        Args:
            inputs (tuple): ``(visual_feats, audio_feats)``: per level
                [B*T, C_i, H_i, W_i] and audio [B, T, C_a].

        Returns:
            tuple[Tensor]: Features of the same shapes as ``visual_feats``.
        """
        visual_feats, audio_feats = inputs
        return tuple(self.fuse(visual_feats, audio_feats)[0])
