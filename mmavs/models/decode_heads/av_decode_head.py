# Copyright (c) mmavs contributors. All rights reserved.
"""What every mmavs decode head shares: losses on labelled frames only."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.losses import accuracy
from mmseg.models.utils import resize
from mmseg.utils import SampleList
from torch import Tensor


class AVDecodeHead(BaseDecodeHead):
    """mmseg's ``BaseDecodeHead`` for clips of frames with label flags.

    Frames whose metainfo has ``label_flag`` False (S4 training frames 2-5,
    padded AVSS frames) carry no label: :meth:`decode_losses` computes the
    ``loss_decode`` losses and ``acc_seg`` on the labelled frames only.
    Subclasses add their own losses around it. Binary heads
    (``out_channels=1``) get a thresholded pixel accuracy; mmseg's
    ``accuracy`` takes a top-1 over channels, which is constant for one
    channel.

    Args:
        **kwargs: The arguments of
            :class:`~mmseg.models.decode_heads.BaseDecodeHead`.
    """

    @staticmethod
    def labelled_frames(batch_data_samples: SampleList) -> List[int]:
        """Indices of the frames whose label counts."""
        return [
            index for index, sample in enumerate(batch_data_samples)
            if sample.metainfo.get('label_flag', True)
        ]

    def decode_losses(self,
                      seg_logits: Tensor,
                      batch_data_samples: SampleList,
                      keep_in_graph: Sequence[Tensor] = ()
                      ) -> Tuple[dict, Optional[Tensor], Optional[Tensor]]:
        """``loss_decode`` losses and ``acc_seg`` on the labelled frames.

        Args:
            seg_logits (Tensor): [N, C, H, W] logits of all N frames.
            batch_data_samples (list[SegDataSample]): N frame samples.
            keep_in_graph (Sequence[Tensor]): Other outputs that must stay
                in the autograd graph when no frame is labelled.

        Returns:
            tuple: the losses; the indices [n] of the labelled frames and
            their labels [n, H', W'] (both None when no frame is labelled;
            the losses are then zeros that keep every output in the graph,
            so that DDP does not wait for missing gradients).
        """
        losses_decode = self.loss_decode if isinstance(
            self.loss_decode, nn.ModuleList) else [self.loss_decode]
        labelled = self.labelled_frames(batch_data_samples)
        losses = dict()
        if not labelled:
            zero = seg_logits.sum() * 0 + sum(t.sum() * 0
                                              for t in keep_in_graph)
            for loss_decode in losses_decode:
                losses[loss_decode.loss_name] = zero
            losses['acc_seg'] = zero.detach()
            return losses, None, None
        index = torch.as_tensor(labelled, device=seg_logits.device)
        seg_label = self._stack_batch_gt(
            [batch_data_samples[i] for i in labelled]).squeeze(1)
        logits = resize(
            seg_logits.index_select(0, index),
            size=seg_label.shape[-2:],
            mode='bilinear',
            align_corners=self.align_corners)
        for loss_decode in losses_decode:
            value = loss_decode(
                logits, seg_label, ignore_index=self.ignore_index)
            name = loss_decode.loss_name
            losses[name] = losses[name] + value if name in losses else value
        losses['acc_seg'] = self._accuracy(logits.detach(), seg_label)
        return losses, index, seg_label

    def _accuracy(self, logits: Tensor, label: Tensor) -> Tensor:
        if self.out_channels > 1:
            return accuracy(logits, label, ignore_index=self.ignore_index)
        valid = label != self.ignore_index
        pred = (logits[:, 0].sigmoid() > self.threshold).to(label.dtype)
        correct = ((pred == label) & valid).sum()
        return correct.float() * 100.0 / valid.sum().clamp(min=1)
