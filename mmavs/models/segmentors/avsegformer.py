# Copyright (c) mmavs contributors. All rights reserved.
"""Audio-visual segmentors."""
from typing import List, Tuple

import torch
import torch.nn as nn
from mmseg.models.segmentors.base import BaseSegmentor
from mmseg.registry import MODELS
from mmseg.utils import (ConfigType, OptConfigType, OptMultiConfig,
                         OptSampleList, SampleList, add_prefix)
from torch import Tensor

from ..decode_heads.av_decode_head import AVDecodeHead


@MODELS.register_module()
class AVEncoderDecoder(BaseSegmentor):
    """Visual backbone + audio backbone (+ neck) + decode head.

    The T frames of each clip are a batch of B*T images for the visual
    backbone and the audio examples a batch of B*T for the audio backbone, so
    every mmseg/mmdet/mmpretrain backbone works unchanged. Necks and heads
    that declare ``takes_audio = True`` receive ``(visual_feats,
    audio_feats)``; others receive the visual features only, so an ordinary
    mmseg decode head can sit behind an audio-visual neck (e.g. TPAVI).

    .. code:: text

        inputs = dict(frames [B, T, 3, H, W],
                      audio [B, T, 1, 96, 64] | [B, T, C])
          frames.flatten(0, 1) -> backbone -> visual_feats (N = B*T)
          audio.flatten(0, 1)  -> audio_backbone -> audio_feats [B, T, C_a]
          neck((visual_feats, audio_feats) | visual_feats)      (optional)
          decode_head((visual_feats, audio_feats) | visual_feats)
        loss():    decode_head.loss(feats, N frame samples) -> losses
        predict(): decode_head.predict(feats, N metas) -> logits [N, C, H, W]
                   -> postprocess_result -> N SegDataSample (pred_sem_seg,
                   seg_logits at ori_shape)
        _forward(): decode_head.forward(feats) -> logits

    Args:
        backbone (dict): Visual backbone config.
        audio_backbone (dict): Audio backbone config (``VGGish``,
            ``LightAudioEncoder``, ``PrecomputedAudioFeatures``); its
            ``out_channels`` must equal the ``audio_channels`` of the head
            (or TPAVI), which is checked when the model is built.
        decode_head (dict): Decode head config.
        neck (dict, optional): Neck config.
        auxiliary_head (dict | list[dict], optional): mmseg auxiliary heads
            on the visual features.
        train_cfg (dict, optional): Training config.
        test_cfg (dict, optional): Test config (``mode='whole'`` only).
        data_preprocessor (dict, optional): Usually ``AVSDataPreProcessor``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 audio_backbone: ConfigType,
                 decode_head: ConfigType,
                 neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None):
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.audio_backbone = MODELS.build(audio_backbone)
        self.neck = MODELS.build(neck) if neck is not None else None
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels
        if auxiliary_head is None:
            self.auxiliary_head = None
        elif isinstance(auxiliary_head, (list, tuple)):
            self.auxiliary_head = nn.ModuleList(
                MODELS.build(cfg) for cfg in auxiliary_head)
        else:
            self.auxiliary_head = MODELS.build(auxiliary_head)
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        mode = (test_cfg or {}).get('mode', 'whole')
        if mode != 'whole':
            raise ValueError(f'{type(self).__name__} supports test_cfg '
                             f"mode='whole' only, got {mode!r}")
        if (train_cfg or {}).get('skip_unlabelled_frames', False) and \
                not self.processes_frames_independently:
            raise ValueError(
                'train_cfg.skip_unlabelled_frames=True needs a model that '
                'processes frames independently; this one has a temporal '
                'module.')
        self._check_audio_channels()

    def _check_audio_channels(self) -> None:
        """Fail at build time when a module's audio input width differs
        from the audio backbone's ``out_channels``.

        Heads and necks take the audio through ``audio_proj`` linear layers
        (AVSegFormerHead, TPAVI blocks); swapping the audio backbone in a
        config without setting their ``audio_channels`` would otherwise
        fail at the first forward pass with a bare shape error.
        """
        width = getattr(self.audio_backbone, 'out_channels', None)
        if width is None:
            return
        parts = dict(neck=self.neck, decode_head=self.decode_head)
        parts.update((f'auxiliary_head.{i}', head)
                     for i, head in enumerate(self.auxiliary_heads))
        for part, module in parts.items():
            if module is None:
                continue
            for name, layer in module.named_modules():
                if name.rsplit('.', 1)[-1] == 'audio_proj' and isinstance(
                        layer, nn.Linear) and layer.in_features != width:
                    raise ValueError(
                        f'{part}.{name} takes audio features of width '
                        f'{layer.in_features}, but the audio backbone '
                        f'{type(self.audio_backbone).__name__} gives '
                        f'{width}: set audio_channels={width} on the head '
                        '(or TPAVI) or out_channels on the audio backbone')

    @property
    def auxiliary_heads(self) -> List[nn.Module]:
        """The auxiliary heads as a list (empty without any)."""
        if self.auxiliary_head is None:
            return []
        if isinstance(self.auxiliary_head, nn.ModuleList):
            return list(self.auxiliary_head)
        return [self.auxiliary_head]

    @staticmethod
    def _takes_audio(module) -> bool:
        return bool(getattr(module, 'takes_audio', False))

    def extract_audio_feat(self, audio: Tensor) -> Tensor:
        """Run the audio backbone on every frame's audio.

        Args:
            audio (Tensor): [B, T, 1, 96, 64] log-mel examples or [B, T, C]
                precomputed features.

        Returns:
            Tensor: [B, T, C_a] audio features.
        """
        batch, frames = audio.shape[:2]
        feats = self.audio_backbone(audio.flatten(0, 1))
        return feats.reshape(batch, frames, -1)

    def extract_feat(self, inputs: dict) -> Tuple[Tuple[Tensor], Tensor]:
        """Run the visual and audio backbones (and the neck).

        Args:
            inputs (dict): ``frames`` [B, T, 3, H, W] and ``audio``
                [B, T, 1, 96, 64] or [B, T, C].

        Returns:
            tuple: visual features (tuple of [B*T, C_i, H_i, W_i]) and audio
            features [B, T, C_a].
        """
        frames, audio = inputs['frames'], inputs['audio']
        if frames.dim() != 5:
            raise ValueError('frames must be [B, T, 3, H, W], got '
                             f'{tuple(frames.shape)}')
        if tuple(audio.shape[:2]) != tuple(frames.shape[:2]):
            raise ValueError(f'audio {tuple(audio.shape)} does not match '
                             f'frames {tuple(frames.shape)} in [B, T]')
        visual = self.backbone(frames.flatten(0, 1))
        audio_feats = self.extract_audio_feat(audio)
        if self.neck is not None:
            visual = self.neck((visual, audio_feats)) if self._takes_audio(
                self.neck) else self.neck(visual)
        return tuple(visual), audio_feats

    def _head_inputs(self, feats: Tuple[Tuple[Tensor], Tensor], head):
        visual, audio = feats
        return (visual, audio) if self._takes_audio(head) else visual

    def encode_decode(self, inputs: dict,
                      batch_img_metas: List[dict]) -> Tensor:
        """Segmentation logits [B*T, C, H, W] at the padded input size."""
        feats = self.extract_feat(inputs)
        return self.decode_head.predict(
            self._head_inputs(feats, self.decode_head), batch_img_metas,
            self.test_cfg)

    @property
    def processes_frames_independently(self) -> bool:
        """True when no module mixes information across the frames of a clip
        (a module that does declares ``temporal = True``)."""
        modules = [self.backbone, self.neck, self.decode_head
                   ] + self.auxiliary_heads
        return not any(
            getattr(module, 'temporal', False) for module in modules
            if module is not None)

    def _labelled_frames_only(self, inputs: dict, data_samples: SampleList
                              ) -> Tuple[dict, SampleList]:
        """Drop unlabelled frames before the forward pass.

        Unlabelled frames contribute nothing to the loss, and when every
        frame is processed on its own the labelled frames' outputs do not
        depend on them, so skipping them gives the same gradients (except
        through batch-norm statistics) at a fraction of the cost - five
        times less for S4, where only the first of 5 frames is labelled.
        Each kept frame becomes a one-frame clip.
        """
        labelled = AVDecodeHead.labelled_frames(data_samples)
        if len(labelled) in (0, len(data_samples)):
            return inputs, data_samples
        # Indices from host-side flags: no device synchronisation.
        keep = torch.tensor(labelled, device=inputs['frames'].device)
        frames = inputs['frames'].flatten(0, 1).index_select(0, keep)
        audio = inputs['audio'].flatten(0, 1).index_select(0, keep)
        kept_inputs = dict(frames=frames.unsqueeze(1),
                           audio=audio.unsqueeze(1))
        kept_samples = [data_samples[index] for index in labelled]
        return kept_inputs, kept_samples

    def loss(self, inputs: dict, data_samples: SampleList) -> dict:
        """Losses of the decode head (and auxiliary heads).

        With ``train_cfg=dict(skip_unlabelled_frames=True)`` unlabelled
        frames are dropped first (see :meth:`_labelled_frames_only`); models
        with temporal modules refuse that setting when they are built.

        Args:
            inputs (dict): See :meth:`extract_feat`.
            data_samples (list[SegDataSample]): B*T frame samples, clip
                major, with ``gt_sem_seg`` and ``label_flag``.

        Returns:
            dict[str, Tensor]: Losses prefixed ``decode.`` / ``aux.``.
        """
        if (self.train_cfg or {}).get('skip_unlabelled_frames', False):
            inputs, data_samples = self._labelled_frames_only(
                inputs, data_samples)
        feats = self.extract_feat(inputs)
        losses = dict()
        head_losses = self.decode_head.loss(
            self._head_inputs(feats, self.decode_head), data_samples,
            self.train_cfg)
        losses.update(add_prefix(head_losses, 'decode'))
        heads = self.auxiliary_heads
        if heads:
            for index, head in enumerate(heads):
                prefix = 'aux' if len(heads) == 1 else f'aux_{index}'
                aux_losses = head.loss(
                    self._head_inputs(feats, head), data_samples,
                    self.train_cfg)
                losses.update(add_prefix(aux_losses, prefix))
        return losses

    def predict(self,
                inputs: dict,
                data_samples: OptSampleList = None) -> SampleList:
        """One :class:`~mmseg.structures.SegDataSample` per frame.

        Args:
            inputs (dict): See :meth:`extract_feat`.
            data_samples (list[SegDataSample], optional): B*T frame samples.

        Returns:
            list[SegDataSample]: B*T samples (clip major) with
            ``pred_sem_seg`` and ``seg_logits`` at ``ori_shape``; padded
            frames (``frame_valid`` False) get zero logits, i.e.
            background.
        """
        frames = inputs['frames']
        if data_samples is not None:
            batch_img_metas = [sample.metainfo for sample in data_samples]
        else:
            shape = tuple(frames.shape[-2:])
            batch_img_metas = [
                dict(ori_shape=shape, img_shape=shape, pad_shape=shape,
                     padding_size=[0, 0, 0, 0])
            ] * (frames.shape[0] * frames.shape[1])
        seg_logits = self.encode_decode(inputs, batch_img_metas)
        padded = [
            index for index, meta in enumerate(batch_img_metas)
            if not meta.get('frame_valid', True)
        ]
        if padded:
            # Frames added to reach T (AVSS v1s/v1m clips) show nothing: their
            # logits are zeroed, as the AVSBench/AVSegFormer releases do, so
            # they predict background instead of guessing from black frames.
            seg_logits[padded] = 0
        return self.postprocess_result(seg_logits, data_samples)

    def _forward(self,
                 inputs: dict,
                 data_samples: OptSampleList = None) -> Tensor:
        """Raw logits [B*T, C, H, W] of the decode head."""
        feats = self.extract_feat(inputs)
        return self.decode_head.forward(
            self._head_inputs(feats, self.decode_head))


@MODELS.register_module()
class AVSegFormer(AVEncoderDecoder):
    """AVSegFormer (Gao et al., 2023): an :class:`AVEncoderDecoder` whose
    decode head is :class:`~mmavs.models.AVSegFormerHead` and whose audio
    backbone is :class:`~mmavs.models.VGGish`.

    See :class:`AVEncoderDecoder` for the call graph and arguments; the head
    documents the AVSegFormer-specific switches.
    """
