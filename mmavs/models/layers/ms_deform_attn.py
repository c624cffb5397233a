# Copyright (c) mmavs contributors. All rights reserved.
"""Multi-scale deformable attention, the ``nn.Module``; its kernels live in
:mod:`mmavs.ops`."""
from typing import List, Optional, Sequence, Tuple

import torch
from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttention
from torch import Tensor

from mmavs.ops import check_kernel_name, multi_scale_deform_attn


class MSDeformAttention(MultiScaleDeformableAttention):
    """Multi-scale deformable attention (Deformable DETR), batch first.

    The parameters and their initialisation are mmcv's
    :class:`~mmcv.ops.MultiScaleDeformableAttention` (``sampling_offsets``,
    ``attention_weights``, ``value_proj``, ``output_proj``). What differs is
    the kernel choice and the interface:

    - the kernel is chosen by :func:`mmavs.ops.select_kernel`: on CUDA
      mmcv's compiled kernel when it exists (full mmcv's, or the one mmavs
      builds from mmcv's sources), else the Triton kernel, else the
      pure-PyTorch ``grid_sample`` path, which also runs on CPU. mmcv's own
      module would call the missing compiled kernel on a GPU machine that
      has mmcv-lite.
    - ``spatial_shapes`` is a list of ``(h, w)`` Python ints, so the pure
      path needs no device-to-host copies; the kernel gets a tensor.
    - the residual connection and dropout are left to the caller, so encoder
      layers read like every other post-norm transformer layer.

    Args:
        embed_dims (int): Channels of query and value. Defaults to 256.
        num_heads (int): Attention heads. Defaults to 8.
        num_levels (int): Feature levels sampled. Defaults to 3.
        num_points (int): Sampling points per head and level. Defaults to 4.
        im2col_step (int): Step of the CUDA kernel. Defaults to 64.
        kernel (str, optional): ``'auto'`` (None), ``'compiled'`` (built
            if needed; fails off CUDA), ``'triton'`` or ``'pytorch'``. The
            environment variable ``MMAVS_MSDA_KERNEL`` overrides it.
    """

    def __init__(self,
                 embed_dims: int = 256,
                 num_heads: int = 8,
                 num_levels: int = 3,
                 num_points: int = 4,
                 im2col_step: int = 64,
                 kernel: Optional[str] = None):
        super().__init__(
            embed_dims=embed_dims,
            num_heads=num_heads,
            num_levels=num_levels,
            num_points=num_points,
            im2col_step=im2col_step,
            dropout=0.0,
            batch_first=True)
        self.kernel = check_kernel_name(kernel)

    def forward(self,
                query: Tensor,
                value: Tensor,
                reference_points: Tensor,
                spatial_shapes: Sequence[Tuple[int, int]],
                level_start_index: Optional[Tensor] = None,
                key_padding_mask: Optional[Tensor] = None) -> Tensor:
        """Sample ``value`` around ``reference_points`` for every query.

        Args:
            query (Tensor): [N, Q, C], positional encoding already added.
            value (Tensor): [N, V, C], the levels flattened and concatenated.
            reference_points (Tensor): [N or 1, Q, num_levels, 2], normalised
                (x, y) in [0, 1].
            spatial_shapes (Sequence[tuple[int, int]]): (h, w) per level with
                sum(h * w) == V.
            level_start_index (Tensor, optional): [num_levels] start offset of
                each level in ``value``; computed when omitted.
            key_padding_mask (Tensor, optional): [N, V], True = padding.

        Returns:
            Tensor: [N, Q, C].
        """
        num_batch, num_query, _ = query.shape
        num_value = value.shape[1]
        if sum(h * w for h, w in spatial_shapes) != num_value:
            raise ValueError(f'spatial_shapes {list(spatial_shapes)} do not '
                             f'cover the {num_value} value tokens.')
        value = self.value_proj(value)
        if key_padding_mask is not None:
            value = value.masked_fill(key_padding_mask[..., None], 0.0)
        value = value.view(num_batch, num_value, self.num_heads, -1)
        offsets = self.sampling_offsets(query).view(num_batch, num_query,
                                                    self.num_heads,
                                                    self.num_levels,
                                                    self.num_points, 2)
        weights = self.attention_weights(query).view(
            num_batch, num_query, self.num_heads,
            self.num_levels * self.num_points).softmax(-1).view(
                num_batch, num_query, self.num_heads, self.num_levels,
                self.num_points)
        # Offsets are in pixels of each level; normalise them by (w, h).
        normalizer = query.new_tensor([[w, h] for h, w in spatial_shapes])
        locations = (
            reference_points[:, :, None, :, None, :] +
            offsets / normalizer[None, None, None, :, None, :])
        output = multi_scale_deform_attn(
            value,
            spatial_shapes,
            locations,
            weights,
            level_start_index=level_start_index,
            im2col_step=self.im2col_step,
            kernel=self.kernel)
        return self.output_proj(output)


def level_reference_points(spatial_shapes: List[Tuple[int, int]],
                           num_levels: int, device: torch.device,
                           dtype: torch.dtype) -> Tensor:
    """Pixel-centre reference points of every token of every level.

    Args:
        spatial_shapes (list[tuple[int, int]]): (h, w) of each level.
        num_levels (int): Levels each point is projected to.
        device (torch.device): Device of the result.
        dtype (torch.dtype): Dtype of the result.

    Returns:
        Tensor: [1, sum(h * w), num_levels, 2] normalised (x, y); the same
        point is used on every level since no token is padding.
    """
    points = []
    for height, width in spatial_shapes:
        ys = (torch.arange(height, device=device, dtype=dtype) + 0.5) / height
        xs = (torch.arange(width, device=device, dtype=dtype) + 0.5) / width
        grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
        points.append(torch.stack((grid_x, grid_y), -1).reshape(-1, 2))
    points = torch.cat(points, 0)
    return points[None, :, None, :].expand(1, -1, num_levels, 2)
