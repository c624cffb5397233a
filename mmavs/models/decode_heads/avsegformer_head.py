# Copyright (c) mmavs contributors. All rights reserved.
"""The AVSegFormer decode head (Gao et al., 2023)."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmdet.models.layers import SinePositionalEncoding
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from ..layers import (DeformableEncoder, MSDeformAttention, QueryDecoder,
                      mask_predictor)
from .av_decode_head import AVDecodeHead


class MaskMLP(nn.Module):
    """1x1 convolutions with ReLU between them (Q -> hidden -> ... -> D).

    Args:
        in_channels (int): Input channels (the number of queries Q).
        hidden_channels (int): Width of the hidden layers.
        out_channels (int): Output channels (D).
        num_layers (int): Number of convolutions. Defaults to 3.
    """

    def __init__(self, in_channels: int, hidden_channels: int,
                 out_channels: int, num_layers: int = 3):
        super().__init__()
        widths = [in_channels] + [hidden_channels] * (num_layers - 1)
        self.layers = nn.ModuleList(
            nn.Conv2d(c_in, c_out, 1)
            for c_in, c_out in zip(widths, widths[1:] + [out_channels]))

    def forward(self, x: Tensor) -> Tensor:
        """[N, in_channels, h, w] -> [N, out_channels, h, w]."""
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = F.relu(x, inplace=True)
        return x


@MODELS.register_module()
class AVSegFormerHead(AVDecodeHead):
    """AVSegFormer head: deformable encoder, audio-visual mixer, audio
    queries, query decoder and mask generation.

    .. code:: text

        visual feats (1/4 .. 1/32)          audio feat [B, T, C_a]
          |  in_proj: 1x1 conv + GN -> D        | audio_proj -> [N, 1, D]
          |-- 1/8, 1/16, 1/32 + sine pos + level embed
          |     -> DeformableEncoder -> memory [N, L, D]
          |-- 1/4 -> lateral_conv + up(memory @ 1/8) -> out_conv = F_mask
          |                                      |
          |  mixer(F_mask, audio) = F_hat        query_generator(audio)
          |                                      (+ learnable queries)
          |                                      -> QueryDecoder(memory)
          |                                      -> Q_out per layer
          |  P = Q_out . F_hat  [N, Q, h, w]
          |  M = conv_seg(mask_tail(F_hat + mask_mlp(P)))   [N, C, H, W]
          |  training: mask_reformer(Q_out_i, A_i) per decoder layer
          |            and/or channel mean of F_hat -> intermediate masks

    N = B*T frames. The switches reproduce the paper's ablations (Table 2)
    and the public release:

    ==========================  ===========================================
    option                      values
    ==========================  ===========================================
    ``num_queries``             1 / 100 / 200 / 300 (paper default 300)
    ``use_learnable_queries``   True (paper) / False
    ``query_generator``         ``RepeatAudioQuery`` (paper) /
                                ``AttentionQueryGenerator`` (release) /
                                None (learnable queries only: audio
                                reaches the masks through the mixer alone)
    ``mixer``                   None / ``CrossAttentionMixer`` (CRA) /
                                ``ChannelAttentionMixer`` (CHA, paper;
                                release: ``residual=False,
                                use_sigmoid=True``)
    ``mask_reformer``           None / ``AttentionOnlyReformer`` (AR) /
                                ``QueryMixedReformer`` (QR, paper)
    ``feature_mean_aux``        False (paper) / True (release's single
                                auxiliary map: channel mean of F_hat)
    ==========================  ===========================================

    Intermediate masks are single-channel foreground predictions; for
    semantic segmentation their target is ``gt > 0`` (as the release's
    auxiliary loss). Frames whose ``label_flag`` is False (S4 training frames
    2-5, padded AVSS frames) are excluded from every loss.

    Args:
        in_channels (Sequence[int]): Channels of the 4 backbone levels
            (strides 4, 8, 16, 32).
        channels (int): Channels entering the classifier ``conv_seg`` (the
            mask tail's output). Defaults to 32.
        embed_dims (int): Transformer width D. Defaults to 256.
        audio_channels (int): Audio feature channels (VGGish: 128).
        num_queries (int): Decoder queries. Defaults to 300.
        use_learnable_queries (bool): Add ``Embedding(num_queries, D)`` to
            the generated queries. Defaults to True.
        query_generator (dict, optional): Config of the query generator;
            None leaves the decoder the learnable queries alone (an
            ablation: needs ``use_learnable_queries``).
        encoder (dict): ``DeformableEncoder`` config (num_layers, layer_cfg).
        decoder (dict): ``QueryDecoder`` config (num_layers, layer_cfg).
        positional_encoding (dict): mmdet ``SinePositionalEncoding`` args;
            ``num_feats`` must be (and defaults to) ``embed_dims // 2``.
        mixer (dict, optional): Audio-visual mixer config.
        mask_mlp_channels (int): Hidden width of the mask MLP. Defaults to
            2048.
        tail_hidden_channels (int): Width of the mask tail's first conv.
            Defaults to 128.
        mask_reformer (dict, optional): Intermediate-mask reformer config.
        feature_mean_aux (bool): Add the release's auxiliary mask.
        loss_inter (dict): Loss of every intermediate mask (weight = lambda).
        norm_cfg (dict): Norm of the projections. Defaults to GN(32).
        conv_seg_bias (bool): Give the classifier ``conv_seg`` a bias (as
            mmseg heads do); the release's classifier has none. Defaults to
            True.
        **kwargs: :class:`~mmseg.models.decode_heads.BaseDecodeHead`
            arguments (``num_classes``, ``out_channels``, ``threshold``,
            ``loss_decode``, ``align_corners``, ...).
    """

    takes_audio = True

    def __init__(self,
                 in_channels: Sequence[int],
                 channels: int = 32,
                 embed_dims: int = 256,
                 audio_channels: int = 128,
                 num_queries: int = 300,
                 use_learnable_queries: bool = True,
                 query_generator: Optional[ConfigType] = dict(
                     type='RepeatAudioQuery'),
                 encoder: ConfigType = dict(num_layers=6),
                 decoder: ConfigType = dict(num_layers=6),
                 positional_encoding: ConfigType = dict(num_feats=128),
                 mixer: Optional[ConfigType] = dict(
                     type='ChannelAttentionMixer'),
                 mask_mlp_channels: int = 2048,
                 tail_hidden_channels: int = 128,
                 mask_reformer: Optional[ConfigType] = dict(
                     type='QueryMixedReformer'),
                 feature_mean_aux: bool = False,
                 loss_inter: ConfigType = dict(
                     type='AVSDiceLoss', loss_weight=0.1,
                     loss_name='loss_inter'),
                 norm_cfg: ConfigType = dict(type='GN', num_groups=32),
                 dropout_ratio: float = 0.0,
                 conv_seg_bias: bool = True,
                 **kwargs):
        super().__init__(
            in_channels=list(in_channels),
            channels=channels,
            in_index=list(range(len(in_channels))),
            input_transform='multiple_select',
            norm_cfg=norm_cfg,
            dropout_ratio=dropout_ratio,
            **kwargs)
        if len(in_channels) != 4:
            raise ValueError('AVSegFormerHead needs 4 feature levels (strides '
                             f'4, 8, 16, 32), got {len(in_channels)}')
        if not conv_seg_bias:
            self.conv_seg = nn.Conv2d(
                channels, self.out_channels, kernel_size=1, bias=False)
        self.embed_dims = embed_dims
        self.num_queries = num_queries
        self.num_levels = 3
        self.in_proj = nn.ModuleList(
            ConvModule(c, embed_dims, 1, bias=True, norm_cfg=norm_cfg,
                       act_cfg=None) for c in in_channels)
        self.audio_proj = nn.Linear(audio_channels, embed_dims)
        positional_encoding = dict(positional_encoding)
        positional_encoding.setdefault('num_feats', embed_dims // 2)
        if 2 * positional_encoding['num_feats'] != embed_dims:
            raise ValueError(
                'positional_encoding.num_feats must be embed_dims / 2 '
                f'(the encoding has 2 * num_feats channels), got num_feats='
                f"{positional_encoding['num_feats']} for "
                f'embed_dims={embed_dims}')
        self.positional_encoding = SinePositionalEncoding(
            **positional_encoding)
        self.level_embed = nn.Parameter(
            torch.zeros(self.num_levels, embed_dims))
        encoder = dict(encoder)
        encoder['layer_cfg'] = dict(
            dict(embed_dims=embed_dims, num_levels=self.num_levels),
            **encoder.get('layer_cfg', {}))
        self.encoder = DeformableEncoder(**encoder)
        decoder = dict(decoder)
        decoder['layer_cfg'] = dict(
            dict(embed_dims=embed_dims), **decoder.get('layer_cfg', {}))
        self.decoder = QueryDecoder(**decoder)
        if query_generator is None and not use_learnable_queries:
            raise ValueError(
                'query_generator=None needs use_learnable_queries=True: the '
                'decoder would have no queries')
        for key, value in (('num_queries', num_queries),
                           ('embed_dims', embed_dims)):
            if (query_generator or {}).get(key, value) != value:
                raise ValueError(
                    f'query_generator.{key}={query_generator[key]} differs '
                    f"from the head's {key}={value}; set it on the head")
        self.query_generator = MODELS.build(
            dict(query_generator, num_queries=num_queries,
                 embed_dims=embed_dims)) if query_generator else None
        self.learnable_query = nn.Embedding(
            num_queries, embed_dims) if use_learnable_queries else None
        self.lateral_conv = ConvModule(
            embed_dims, embed_dims, 1, bias=True, norm_cfg=norm_cfg,
            act_cfg=None)
        self.out_conv = ConvModule(
            embed_dims, embed_dims, 3, padding=1, bias=True,
            norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'))
        self.mixer = MODELS.build(
            dict(dict(embed_dims=embed_dims), **mixer)) if mixer else None
        self.mask_mlp = MaskMLP(num_queries, mask_mlp_channels, embed_dims)
        self.mask_tail = mask_predictor(embed_dims, tail_hidden_channels,
                                        channels)
        if mask_reformer is not None:
            reformer_cfg = dict(
                dict(embed_dims=embed_dims,
                     tail_channels=(tail_hidden_channels, channels)),
                **mask_reformer)
            if reformer_cfg['type'] in ('AttentionOnlyReformer',
                                        'mmseg.AttentionOnlyReformer'):
                reformer_cfg.setdefault('num_queries', num_queries)
            self.mask_reformer = MODELS.build(reformer_cfg)
        else:
            self.mask_reformer = None
        self.feature_mean_aux = feature_mean_aux
        self.loss_inter = MODELS.build(loss_inter)

    def init_weights(self) -> None:
        """Xavier-uniform on every weight matrix, then the deformable
        attention's own init and a normal level embedding (as the release)."""
        super().init_weights()
        for name, param in self.named_parameters():
            if param.dim() > 1 and not name.startswith('conv_seg'):
                nn.init.xavier_uniform_(param)
        for module in self.modules():
            if isinstance(module, MSDeformAttention):
                module.init_weights()
        nn.init.normal_(self.level_embed)

    # ------------------------------------------------------------------
    def _encode(self, feats: Sequence[Tensor]
                ) -> Tuple[Tensor, Tensor, List[Tuple[int, int]]]:
        """Project the levels and run the encoder.

        Returns:
            tuple: ``memory`` [N, L, D], ``mask_feature`` [N, D, H/4, W/4]
            and the (h, w) of the three encoded levels.
        """
        projected = [proj(x) for proj, x in zip(self.in_proj, feats)]
        levels = projected[1:]
        spatial_shapes = [tuple(x.shape[-2:]) for x in levels]
        tokens, pos = [], []
        for index, level in enumerate(levels):
            tokens.append(level.flatten(2).transpose(1, 2))
            # The encoding is the same for every frame: compute it once.
            level_pos = self.positional_encoding(
                mask=None, input=level[:1]).to(level.dtype)
            pos.append(
                level_pos.flatten(2).transpose(1, 2) +
                self.level_embed[index])
        memory = self.encoder(
            torch.cat(tokens, 1), torch.cat(pos, 1), spatial_shapes)
        height, width = spatial_shapes[0]
        finest = memory[:, :height * width].transpose(1, 2).reshape(
            memory.shape[0], self.embed_dims, height, width)
        lateral = self.lateral_conv(projected[0])
        mask_feature = self.out_conv(lateral + F.interpolate(
            finest, size=lateral.shape[-2:], mode='bilinear',
            align_corners=False))
        return memory, mask_feature, spatial_shapes

    def _decode(self, inputs: Tuple[Sequence[Tensor], Tensor],
                with_aux: bool) -> Tuple[Tensor, List[Tensor]]:
        visual_feats, audio_feats = inputs
        feats = self._transform_inputs(visual_feats)
        audio = self.audio_proj(audio_feats.reshape(
            -1, audio_feats.shape[-1])).unsqueeze(1)
        if audio.shape[0] != feats[0].shape[0]:
            raise ValueError(f'{audio.shape[0]} audio features for '
                             f'{feats[0].shape[0]} frames')
        memory, mask_feature, spatial_shapes = self._encode(feats)
        if self.query_generator is None:
            queries = self.learnable_query.weight[None].expand(
                audio.shape[0], -1, -1)
        else:
            queries = self.query_generator(audio)
            if self.learnable_query is not None:
                queries = queries + self.learnable_query.weight[None]
        want_attn = with_aux and self.mask_reformer is not None
        layer_queries, attn_logits = self.decoder(queries, memory, want_attn)
        mixed = self.mixer(mask_feature, audio) if self.mixer else mask_feature
        query_maps = torch.einsum('nqc,nchw->nqhw', layer_queries[-1], mixed)
        seg_logits = self.cls_seg(
            self.mask_tail(mixed + self.mask_mlp(query_maps)))
        aux_masks = []
        if want_attn:
            aux_masks += [
                self.mask_reformer(q, a, spatial_shapes)
                for q, a in zip(layer_queries, attn_logits)
            ]
        if with_aux and self.feature_mean_aux:
            aux_masks.append(mixed.mean(1, keepdim=True))
        return seg_logits, aux_masks

    def forward(self, inputs: Tuple[Sequence[Tensor], Tensor]) -> Tensor:
        """Predict masks.

        Args:
            inputs (tuple): ``(visual_feats, audio_feats)``: 4 tensors
                [N, C_i, H_i, W_i] (N = B*T) and audio features [B, T, C_a]
                (or [N, C_a]).

        Returns:
            Tensor: [N, out_channels, H, W] logits at the input resolution.
        """
        return self._decode(inputs, with_aux=False)[0]

    def loss(self, inputs: Tuple[Sequence[Tensor], Tensor],
             batch_data_samples: SampleList, train_cfg: ConfigType) -> dict:
        """Forward with intermediate masks and compute all losses.

        Args:
            inputs (tuple): ``(visual_feats, audio_feats)`` as in
                :meth:`forward`.
            batch_data_samples (list[SegDataSample]): N frame samples with
                ``gt_sem_seg`` and ``label_flag``.
            train_cfg (dict): The segmentor's training config (unused).

        Returns:
            dict[str, Tensor]: See :meth:`loss_by_feat`.
        """
        seg_logits, aux_masks = self._decode(inputs, with_aux=True)
        return self.loss_by_feat(seg_logits, batch_data_samples, aux_masks)

    def loss_by_feat(self,
                     seg_logits: Tensor,
                     batch_data_samples: SampleList,
                     aux_masks: Sequence[Tensor] = ()) -> dict:
        """Losses on the labelled frames only.

        Args:
            seg_logits (Tensor): [N, C, H, W].
            batch_data_samples (list[SegDataSample]): N frame samples with
                ``gt_sem_seg`` and ``label_flag`` in their metainfo.
            aux_masks (Sequence[Tensor]): Intermediate masks [N, 1, h, w];
                the i-th gets the key ``d{i}.loss_inter`` (mmdet style).

        Returns:
            dict[str, Tensor]: Losses and ``acc_seg``.
        """
        losses, index, seg_label = self.decode_losses(
            seg_logits, batch_data_samples, keep_in_graph=aux_masks)
        if index is None:
            for layer in range(len(aux_masks)):
                losses[f'd{layer}.{self.loss_inter.loss_name}'] = sum(
                    mask.sum() * 0 for mask in aux_masks)
            return losses
        if aux_masks:
            foreground = torch.where(
                seg_label == self.ignore_index, seg_label,
                (seg_label > 0).to(seg_label.dtype))
            for layer, mask in enumerate(aux_masks):
                mask = resize(
                    mask.index_select(0, index),
                    size=seg_label.shape[-2:],
                    mode='bilinear',
                    align_corners=self.align_corners)
                losses[f'd{layer}.{self.loss_inter.loss_name}'] = \
                    self.loss_inter(mask, foreground,
                                    ignore_index=self.ignore_index)
        return losses
