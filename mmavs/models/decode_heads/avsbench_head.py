# Copyright (c) mmavs contributors. All rights reserved.
"""The decoder of the AVSBench baseline (Zhou et al., ECCV 2022)."""
from typing import List, Optional, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, SampleList
from torch import Tensor

from .av_decode_head import AVDecodeHead


class DilatedSumConv(nn.Module):
    """ASPP-like level module: the sum of parallel 3x3 convolutions with
    different dilations (padding = dilation), weights ~ N(0, 0.01) as
    released.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        dilations (Sequence[int]): One branch per dilation.
    """

    def __init__(self, in_channels: int, out_channels: int,
                 dilations: Sequence[int] = (3, 6, 12, 18)):
        super().__init__()
        self.branches = nn.ModuleList(
            nn.Conv2d(in_channels, out_channels, 3, padding=d, dilation=d)
            for d in dilations)
        for branch in self.branches:
            nn.init.normal_(branch.weight, 0, 0.01)

    def forward(self, x: Tensor) -> Tensor:
        """[N, C_in, H, W] -> [N, C_out, H, W]."""
        return sum(branch(x) for branch in self.branches)


class ResidualConvUnit(nn.Module):
    """``conv(relu(conv(relu(x)))) + relu(x)`` with 3x3 convolutions.

    The skip carries ``relu(x)``: that is what the released unit computes,
    because its first ReLU works in place on the input it adds back.

    Args:
        channels (int): Channels.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        """[N, C, H, W] -> [N, C, H, W]."""
        x = F.relu(x)
        return self.conv2(F.relu(self.conv1(x))) + x


class FusionBlock(nn.Module):
    """Top-down fusion: ``up(rcu2(top + rcu1(skip)))`` (``rcu2(top)`` on
    the coarsest level), bilinear with ``align_corners=True`` as released.

    Args:
        channels (int): Channels.
        with_skip (bool): Build the skip unit. The coarsest block has no
            skip input; the release builds its unit anyway and never uses it,
            which would stall DDP, so it is left out here.
    """

    def __init__(self, channels: int, with_skip: bool = True):
        super().__init__()
        self.skip_unit = ResidualConvUnit(channels) if with_skip else None
        self.out_unit = ResidualConvUnit(channels)

    def forward(self, top: Tensor, skip: Optional[Tensor],
                size: Tuple[int, int]) -> Tensor:
        """Fuse and upsample.

        Args:
            top (Tensor): Top-down features [N, C, h, w].
            skip (Tensor, optional): This level's features [N, C, h, w].
            size (tuple[int, int]): Output size (twice the input's, or the
                next finer level's).

        Returns:
            Tensor: [N, C, *size].
        """
        if skip is not None:
            if self.skip_unit is None:
                raise ValueError('this fusion block takes no skip input')
            top = top + self.skip_unit(skip)
        return F.interpolate(
            self.out_unit(top), size=size, mode='bilinear',
            align_corners=True)


@MODELS.register_module()
class AVSBenchHead(AVDecodeHead):
    """The AVSBench baseline's decoder, with TPAVI fusion inside.

    .. code:: text

        levels l = 0..L-1 (strides 4..32), N = B*T frames
          f_l = DilatedSumConv_l(x_l)                    [N, 256, h_l, w_l]
          f_l = TPAVI_l(f_l, audio)    for l in fusion.stages   (optional)
          p   = Fusion_{L-1}(f_{L-1})                    -> size of f_{L-2}
          p   = Fusion_l(p, f_l)       for l = L-2..0    -> size of f_{l-1}
                                                           (2x for l = 0)
          out = conv_seg(relu(conv3x3(up2(conv3x3(p)))))  [N, K, H, W]

    As released, TPAVI sits between the per-level modules and the fusion
    blocks (256 channels, all four levels). Without ``fusion`` it is the
    release's audio-free ablation and ignores the audio. The TPAVI neck
    (:class:`~mmavs.models.TPAVI`) puts the same blocks on raw backbone
    features in front of any head instead.

    ``loss_av_match`` (:class:`~mmavs.models.AVMatchingLoss`) gets the final
    logits, the fused maps after ReLU (the release's decoder rectifies them
    in place before its loss reads them) and the projected audio of every
    TPAVI level. Frames whose ``label_flag`` is False are left out of every
    loss.

    Args:
        in_channels (Sequence[int]): Channels of the input levels.
        channels (int): Channels entering ``conv_seg``. Defaults to 32.
        feat_channels (int): Decoder width. Defaults to 256.
        hidden_channels (int): Width of the first output conv. Defaults to
            128.
        dilations (Sequence[int]): Dilations of the per-level modules.
            Defaults to (3, 6, 12, 18).
        fusion (dict, optional): Audio-visual fusion config (``TPAVI``);
            its ``in_channels`` are filled in (``feat_channels`` per level).
        loss_av_match (dict, optional): Audio-visual matching loss config;
            needs ``fusion``.
        dropout_ratio (float): Dropout before ``conv_seg``. Defaults to 0
            (none in the release).
        **kwargs: :class:`~mmseg.models.decode_heads.BaseDecodeHead`
            arguments (``num_classes``, ``out_channels``, ``threshold``,
            ``loss_decode``, ``align_corners``, ...).
    """

    # The audio is only used by ``fusion``; taking it always keeps the
    # segmentor's calling convention independent of the config.
    takes_audio = True

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int = 32,
                 feat_channels: int = 256,
                 hidden_channels: int = 128,
                 dilations: Sequence[int] = (3, 6, 12, 18),
                 fusion: OptConfigType = None,
                 loss_av_match: OptConfigType = None,
                 dropout_ratio: float = 0.0,
                 **kwargs):
        super().__init__(
            in_channels=list(in_channels),
            channels=channels,
            in_index=list(range(len(in_channels))),
            input_transform='multiple_select',
            dropout_ratio=dropout_ratio,
            **kwargs)
        num_levels = len(in_channels)
        if num_levels < 2:
            raise ValueError('AVSBenchHead needs at least 2 feature levels')
        self.feat_channels = feat_channels
        self.level_convs = nn.ModuleList(
            DilatedSumConv(c, feat_channels, dilations) for c in in_channels)
        if fusion is not None:
            fusion = dict(fusion)
            given = fusion.setdefault('in_channels',
                                      [feat_channels] * num_levels)
            if list(given) != [feat_channels] * num_levels:
                raise ValueError(f'fusion in_channels {list(given)} must be '
                                 f'{[feat_channels] * num_levels}')
            self.fusion = MODELS.build(fusion)
        else:
            self.fusion = None
        self.fusion_blocks = nn.ModuleList(
            FusionBlock(feat_channels, with_skip=level < num_levels - 1)
            for level in range(num_levels))
        self.output_convs = nn.ModuleList([
            nn.Conv2d(feat_channels, hidden_channels, 3, padding=1),
            nn.Conv2d(hidden_channels, channels, 3, padding=1)
        ])
        if self.fusion is not None and not hasattr(self.fusion, 'fuse'):
            raise ValueError(
                f'AVSBenchHead fusion {type(self.fusion).__name__} has no '
                'fuse(feats, audio) method (see TPAVI)')
        if loss_av_match is not None and self.fusion is None:
            raise ValueError('loss_av_match needs a fusion module (TPAVI)')
        self.loss_av_match = MODELS.build(
            loss_av_match) if loss_av_match is not None else None
        match_stages = getattr(self.loss_av_match, 'stages', None)
        fused_stages = getattr(self.fusion, 'stages', None)
        if match_stages is not None and fused_stages is not None and not set(
                match_stages) <= set(fused_stages):
            raise ValueError(
                f'loss_av_match stages {list(match_stages)} must be among '
                f'the fusion stages {list(fused_stages)}')

    @property
    def temporal(self) -> bool:
        """True when the fusion mixes the frames of a clip."""
        return bool(getattr(self.fusion, 'temporal', False))

    def _decode(self, inputs: Tuple[Sequence[Tensor], Optional[Tensor]]
                ) -> Tuple[Tensor, List[Tensor], List[Optional[Tensor]]]:
        visual_feats, audio_feats = inputs
        feats = [
            conv(x) for conv, x in zip(self.level_convs,
                                       self._transform_inputs(visual_feats))
        ]
        audio_per_level = [None] * len(feats)
        if self.fusion is not None:
            if audio_feats is None:
                raise ValueError('AVSBenchHead with fusion needs audio')
            feats, audio_per_level = self.fusion.fuse(feats, audio_feats)
        last = len(feats) - 1
        x = self.fusion_blocks[last](feats[last], None,
                                     feats[last - 1].shape[-2:])
        for level in range(last - 1, -1, -1):
            size = feats[level - 1].shape[-2:] if level > 0 else tuple(
                2 * s for s in feats[0].shape[-2:])
            x = self.fusion_blocks[level](x, feats[level], size)
        x = self.output_convs[0](x)
        # Plain bilinear here (align_corners=False), as released.
        x = F.interpolate(
            x, scale_factor=2, mode='bilinear', align_corners=False)
        x = F.relu(self.output_convs[1](x))
        return self.cls_seg(x), feats, audio_per_level

    def forward(self, inputs: Tuple[Sequence[Tensor], Optional[Tensor]]
                ) -> Tensor:
        """Predict masks.

        Args:
            inputs (tuple): ``(visual_feats, audio_feats)``: L tensors
                [N, C_l, H_l, W_l] (N = B*T) and audio features [B, T, C_a]
                (None is accepted without ``fusion``).

        Returns:
            Tensor: [N, out_channels, 4 H_0, 4 W_0] logits (the input size
            for a stride-4 finest level).
        """
        return self._decode(inputs)[0]

    def loss(self, inputs: Tuple[Sequence[Tensor], Optional[Tensor]],
             batch_data_samples: SampleList, train_cfg: ConfigType) -> dict:
        """Forward and compute the losses (see :meth:`loss_by_feat`)."""
        seg_logits, feats, audio_per_level = self._decode(inputs)
        return self.loss_by_feat(seg_logits, batch_data_samples, feats,
                                 audio_per_level)

    def loss_by_feat(self,
                     seg_logits: Tensor,
                     batch_data_samples: SampleList,
                     fused_maps: Sequence[Tensor] = (),
                     audio_per_level: Sequence[Optional[Tensor]] = ()
                     ) -> dict:
        """Losses on the labelled frames only.

        Args:
            seg_logits (Tensor): [N, K, H, W].
            batch_data_samples (list[SegDataSample]): N frame samples with
                ``gt_sem_seg`` and ``label_flag`` in their metainfo.
            fused_maps (Sequence[Tensor]): Per level [N, C, h, w] (after
                fusion); used by ``loss_av_match``.
            audio_per_level (Sequence[Tensor | None]): Per level projected
                audio [N, C] (None where no fusion happened).

        Returns:
            dict[str, Tensor]: ``loss_decode`` losses, ``loss_av_match`` (if
            configured) and ``acc_seg``.
        """
        losses, labelled, _ = self.decode_losses(seg_logits,
                                                 batch_data_samples)
        if self.loss_av_match is not None:
            weight = seg_logits.new_zeros(len(batch_data_samples))
            if labelled is not None:
                weight.index_fill_(0, labelled, 1.0)
            losses[self.loss_av_match.loss_name] = self.loss_av_match(
                seg_logits, [F.relu(m) for m in fused_maps], audio_per_level,
                weight)
        return losses
