# Copyright (c) mmavs contributors. All rights reserved.
"""Multi-scale deformable attention in Triton (being written)."""
import torch


def triton_available(device: torch.device) -> bool:
    """Whether the Triton kernel can run on ``device``.

    Args:
        device (torch.device): Where the tensors live.

    Returns:
        bool: False until the kernel exists.
    """
    return False


def triton_multi_scale_deform_attn(value, spatial_shapes, level_start_index,
                                   sampling_locations, attention_weights):
    """Not written yet."""
    raise NotImplementedError('the Triton kernel is not written yet')
