# Copyright (c) mmavs contributors. All rights reserved.
"""Multi-scale deformable attention: one entry point, three kernels.

:func:`multi_scale_deform_attn` samples ``value`` at the given locations
and sums the samples with the attention weights, with the kernel chosen by
:func:`select_kernel`:

- ``'compiled'``: mmcv's CUDA kernel, from full mmcv or built from the
  sources mmcv-lite ships (:mod:`mmavs.ops.ms_deform_attn_build`);
- ``'triton'``: mmavs' Triton kernel (:mod:`mmavs.ops.triton_ms_deform_attn`),
  which needs nothing compiled ahead: PyTorch's CUDA wheels bring Triton;
- ``'pytorch'``: mmcv's ``grid_sample`` path, on any device.

All three sample the same way (bilinear, zero padding outside the map,
``align_corners=False``) and accumulate in fp32. On CUDA, ``'auto'`` takes
the compiled kernel when it exists, else Triton when it imports, else
PyTorch; on CPU it takes PyTorch. The choice can be forced by the caller
(``MSDeformAttention(kernel=...)`` in a config) and, above that, by the
environment variable ``MMAVS_MSDA_KERNEL``; each choice is logged once.

mmcv's Python ops are imported inside the functions: importing
``mmcv.ops`` loads ``mmcv._ext``, which must wait until the stand-in of
:mod:`mmavs.ops.mmcv_ext` is in place.
"""
import functools
import math
import os
from typing import Optional, Sequence, Set, Tuple, Union

import torch
from mmengine.logging import print_log
from torch import Tensor

from .ms_deform_attn_build import (build_requested_by_environment,
                                   ensure_ms_deform_attn_kernel,
                                   try_ms_deform_attn_kernel)

#: Environment variable that overrides the kernel of every layer.
KERNEL_ENV = 'MMAVS_MSDA_KERNEL'
#: Accepted kernel names.
KERNELS = ('auto', 'compiled', 'triton', 'pytorch')

_LOGGED: Set[Tuple[str, str, str]] = set()


def check_kernel_name(kernel: Optional[str], source: str = 'kernel') -> str:
    """Validate a kernel name; None means ``'auto'``.

    Args:
        kernel (str, optional): One of :data:`KERNELS` or None.
        source (str): How the error names the setting.

    Returns:
        str: The kernel name.

    Raises:
        ValueError: For an unknown name.
    """
    kernel = 'auto' if kernel is None else str(kernel).strip().lower()
    if kernel not in KERNELS:
        raise ValueError(f'{source} must be one of {", ".join(KERNELS)}; '
                         f'got {kernel!r}')
    return kernel


def requested_kernel(kernel: Optional[str] = None) -> Tuple[str, str]:
    """The kernel asked for, and who asked: the environment or the caller.

    Args:
        kernel (str, optional): The caller's (config's) choice.

    Returns:
        tuple[str, str]: The kernel name and ``'MMAVS_MSDA_KERNEL'`` or
        ``'config'`` (``'default'`` when nobody asked).
    """
    from_env = os.environ.get(KERNEL_ENV, '').strip()
    if from_env:
        return check_kernel_name(from_env, KERNEL_ENV), KERNEL_ENV
    kernel = check_kernel_name(kernel)
    return kernel, 'default' if kernel == 'auto' else 'config'


def _triton_usable(device: torch.device) -> bool:
    from .triton_ms_deform_attn import triton_available
    return triton_available(device)


def select_kernel(device: Union[str, torch.device],
                  kernel: Optional[str] = None) -> str:
    """Pick the kernel for tensors on ``device``.

    Args:
        device (str | torch.device): Where ``value`` lives.
        kernel (str, optional): ``'auto'`` (None), ``'compiled'``,
            ``'triton'`` or ``'pytorch'``; the environment variable
            ``MMAVS_MSDA_KERNEL`` overrides it.

    Returns:
        str: ``'compiled'``, ``'triton'`` or ``'pytorch'``.

    Raises:
        RuntimeError: A forced kernel cannot run on ``device`` (the
            compiled kernel off CUDA, Triton off CUDA without its
            interpreter, or when Triton does not import).
        KernelBuildError: The compiled kernel is forced and cannot be
            built.
    """
    device = torch.device(device)
    kernel, source = requested_kernel(kernel)
    if kernel == 'compiled':
        if device.type != 'cuda':
            raise RuntimeError(
                f'The compiled deformable-attention kernel ({source}) needs '
                f'CUDA tensors; got device={device}.')
        ensure_ms_deform_attn_kernel(build=True)
        chosen = 'compiled'
    elif kernel == 'triton':
        if not _triton_usable(device):
            raise RuntimeError(
                f'The Triton deformable-attention kernel ({source}) cannot '
                f'run on device={device}: it needs CUDA and an importable '
                'triton, or TRITON_INTERPRET=1 for CPU tensors.')
        chosen = 'triton'
    elif kernel == 'pytorch' or device.type != 'cuda':
        chosen = 'pytorch'
    elif try_ms_deform_attn_kernel(build=build_requested_by_environment()):
        chosen = 'compiled'
    elif _triton_usable(device):
        chosen = 'triton'
    else:
        chosen = 'pytorch'
    key = (device.type, kernel, chosen)
    if key not in _LOGGED:
        _LOGGED.add(key)
        print_log(
            f'Deformable attention on {device.type}: {chosen} kernel '
            f'(asked for {kernel!r} by {source})',
            logger='current')
    return chosen


@functools.lru_cache(maxsize=64)
def _cached_level_tensors(spatial_shapes: Tuple[Tuple[int, int], ...],
                          device: torch.device) -> Tuple[Tensor, Tensor]:
    # Never inference tensors, even when first asked for under
    # torch.inference_mode(): autograd functions save them for backward.
    with torch.inference_mode(False):
        shapes = torch.tensor(spatial_shapes, dtype=torch.long,
                              device=device)
        return shapes, torch.cat(
            (shapes.new_zeros(1), shapes.prod(1).cumsum(0)[:-1]))


def level_tensors(spatial_shapes: Sequence[Tuple[int, int]],
                  device: torch.device) -> Tuple[Tensor, Tensor]:
    """``spatial_shapes`` and ``level_start_index`` as tensors on
    ``device``, as the kernels take them.

    Built once per (shapes, device) and reused: a fresh copy to the GPU on
    every call would be a blocking host-to-device copy per layer, which
    stops the host from queueing work ahead of the GPU. The cached tensors
    are shared, so callers must not modify them.

    Args:
        spatial_shapes (Sequence[tuple[int, int]]): (h, w) of each level.
        device (torch.device): Where the kernel runs.

    Returns:
        tuple[Tensor, Tensor]: int64 [L, 2] shapes and [L] start offsets.
    """
    return _cached_level_tensors(
        tuple((int(h), int(w)) for h, w in spatial_shapes),
        torch.device(device))


def multi_scale_deform_attn(value: Tensor,
                            spatial_shapes: Sequence[Tuple[int, int]],
                            sampling_locations: Tensor,
                            attention_weights: Tensor,
                            level_start_index: Optional[Tensor] = None,
                            im2col_step: int = 64,
                            kernel: Optional[str] = None) -> Tensor:
    """Deformable attention over several feature levels.

    Args:
        value (Tensor): [N, S, heads, C], the levels flattened and
            concatenated (S = sum of h * w).
        spatial_shapes (Sequence[tuple[int, int]]): (h, w) of each level, as
            Python ints (the PyTorch path then needs no host copies).
        sampling_locations (Tensor): [N, Lq, heads, levels, points, 2],
            normalised (x, y); (0, 0) is the top-left corner of the map.
        attention_weights (Tensor): [N, Lq, heads, levels, points].
        level_start_index (Tensor, optional): [levels] offset of each level
            in ``value``; computed when omitted.
        im2col_step (int): Step of the compiled kernel (reduced to a
            divisor of N). Defaults to 64.
        kernel (str, optional): See :func:`select_kernel`.

    Returns:
        Tensor: [N, Lq, heads * C] in ``value``'s dtype.
    """
    chosen = select_kernel(value.device, kernel)
    if chosen == 'pytorch':
        from mmcv.ops.multi_scale_deform_attn import \
            multi_scale_deformable_attn_pytorch
        return multi_scale_deformable_attn_pytorch(
            value, list(spatial_shapes),
            sampling_locations.to(value.dtype),
            attention_weights.to(value.dtype))
    shapes, starts = level_tensors(spatial_shapes, value.device)
    if level_start_index is None:
        level_start_index = starts
    if chosen == 'triton':
        from .triton_ms_deform_attn import triton_multi_scale_deform_attn
        return triton_multi_scale_deform_attn(value, shapes,
                                              level_start_index,
                                              sampling_locations,
                                              attention_weights)
    from mmcv.ops.multi_scale_deform_attn import \
        MultiScaleDeformableAttnFunction

    # The compiled kernel computes in fp32 only (AMP hands it half tensors)
    # and needs a step that divides the batch.
    return MultiScaleDeformableAttnFunction.apply(
        value.float(), shapes, level_start_index, sampling_locations.float(),
        attention_weights.float(),
        math.gcd(value.shape[0], im2col_step)).to(value.dtype)
