# Copyright (c) mmavs contributors. All rights reserved.
"""Batch clips of frames and audio for audio-visual segmentors."""
from typing import Any, Dict, List, Tuple

import torch
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class AVSDataPreProcessor(SegDataPreProcessor):
    """Normalise, pad and batch clips of T frames together with their audio.

    The frames of all clips are handled exactly as
    :class:`~mmseg.models.SegDataPreProcessor` handles images (BGR->RGB,
    mean/std, padding of images and ``gt_sem_seg``), then regrouped per clip.
    The frame samples of the clips are flattened clip-major, so frame ``t`` of
    clip ``b`` is sample ``b * T + t``, matching the order in which the
    segmentor runs the backbone.

    Args:
        **kwargs: The arguments of :class:`~mmseg.models.SegDataPreProcessor`
            (``mean``, ``std``, ``size``, ``size_divisor``, ``pad_val``,
            ``seg_pad_val``, ``bgr_to_rgb``, ``test_cfg``, ...).

    Input ``data``:
        - ``inputs``: either what mmengine's ``pseudo_collate`` makes of B
          packed clips, a dict with ``frames`` (list of B uint8 Tensors
          [T, 3, H, W]) and ``audio`` (list of B Tensors [T, 1, 96, 64]
          log-mel or [T, C] features), or a list of B such per-clip dicts.
        - ``data_samples`` (list[ClipDataSample], optional): B clips.

    Returns:
        dict: ``inputs`` = dict(``frames`` float Tensor [B, T, 3, H', W'],
        ``audio`` float Tensor [B, T, ...]) and ``data_samples`` = list of
        B*T :class:`~mmseg.structures.SegDataSample` (or None).
    """

    @staticmethod
    def _split_inputs(inputs) -> Tuple[List[Tensor], List[Tensor]]:
        """Per-clip frames and audio from collated or per-clip inputs."""
        if isinstance(inputs, dict):
            frames, audio = inputs['frames'], inputs['audio']
            if isinstance(frames, Tensor):  # already stacked [B, T, ...]
                return list(frames.unbind(0)), list(audio.unbind(0))
            return list(frames), list(audio)
        return ([clip['frames'] for clip in inputs],
                [clip['audio'] for clip in inputs])

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        """Batch a list of clips; see the class docstring for the format."""
        data = self.cast_data(data)
        clip_frames, clip_audio = self._split_inputs(data['inputs'])
        clips = data.get('data_samples', None)
        if not clip_frames:
            raise ValueError('AVSDataPreProcessor got an empty batch.')
        frame_counts = {frames.shape[0] for frames in clip_frames}
        if len(frame_counts) != 1:
            raise ValueError('All clips of a batch must have the same number '
                             f'of frames, got {sorted(frame_counts)}.')
        num_frames = frame_counts.pop()
        frames = [frame for clip in clip_frames for frame in clip.unbind(0)]
        frame_samples = None
        if clips is not None:
            frame_samples = [
                sample for clip in clips for sample in clip.frames
            ]
            if len(frame_samples) != len(frames):
                raise ValueError(
                    f'{len(frames)} frames but {len(frame_samples)} frame '
                    'samples in the batch; each ClipDataSample must hold one '
                    'SegDataSample per frame.')
        batched = super().forward(
            dict(inputs=frames, data_samples=frame_samples), training)
        batch_frames = batched['inputs']
        batch_frames = batch_frames.view(
            len(clip_frames), num_frames, *batch_frames.shape[1:])
        audio = torch.stack(list(clip_audio)).float()
        if audio.shape[1] != num_frames:
            raise ValueError(f'Audio has {audio.shape[1]} examples per clip '
                             f'but the clip has {num_frames} frames.')
        return dict(
            inputs=dict(frames=batch_frames, audio=audio),
            data_samples=batched['data_samples'])
