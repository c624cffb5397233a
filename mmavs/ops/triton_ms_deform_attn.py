# Copyright (c) mmavs contributors. All rights reserved.
"""Multi-scale deformable attention in Triton: nothing to compile ahead.

PyTorch's CUDA wheels bring Triton, so this kernel runs on any CUDA PyTorch
without nvcc or a full mmcv build. It samples exactly as the pure-PyTorch
path (mmcv's ``multi_scale_deformable_attn_pytorch``, i.e.
``F.grid_sample(mode='bilinear', padding_mode='zeros',
align_corners=False)``): the pixel coordinate of a normalised location
``loc`` on a map of width ``w`` is ``((2 * loc - 1 + 1) * w - 1) / 2``,
written term for term as the PyTorch path computes it so that both round
alike, and each of the four bilinear corners that falls outside the map
contributes zero, to the output and to the gradients (a point exactly one
pixel outside still gets a location gradient from its one inside corner,
as in PyTorch; mmcv's CUDA kernel gives it none).

Precision and AMP: ``value``, ``sampling_locations`` and
``attention_weights`` may each be fp32, fp16 or bf16, each in its own dtype
(under AMP ``value`` comes from a half-precision ``Linear`` while the
locations and the softmaxed weights are fp32). The kernels convert every
load to fp32 and accumulate every sum in fp32; each result is rounded
once, to its input's dtype, when stored. ``grad_value`` receives one
atomic add per sample and corner, so it is accumulated in an fp32 buffer
and cast at the end. Half-precision inputs are *not* upcast in memory
(unlike the compiled kernel's call, which computes on fp32 copies): the
kernel reads half the bytes under AMP, which is where it gains.

Kernels: one Triton function for both passes (``BACKWARD`` is a compile
time flag); a program takes a block of queries of one (batch, head) and
all its channels, so the forward sum and the location / weight gradients
stay in registers and only ``grad_value`` needs atomic adds. On CUDA the
block size is autotuned over four configurations at the first call for
each problem size (about a second); the compiled kernels stay in Triton's
on-disk cache (``~/.triton/cache``) for later processes.

The jitted kernels are built at first use, not at import: Triton decides
between compiling and its CPU interpreter (``TRITON_INTERPRET=1``) when a
function is decorated, and a process may import mmavs long before a test
turns the interpreter on. One pair of kernels is kept per mode. Needs
Triton 3 (checked with 3.8); with an older one the other kernels run.
"""
import functools
import os
from contextlib import nullcontext
from typing import Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


def _import_triton():
    try:
        import triton
        import triton.language
    except Exception:  # ImportError, or an install that fails to load
        return None, None
    if int(triton.__version__.split('.')[0]) < 3:
        # tl.range, atomic semantics and knobs came with Triton 3.
        return None, None
    return triton, triton.language


# The kernel reads ``tl`` from this module's globals.
triton, tl = _import_triton()

# Queries per program under the interpreter: small, so that CPU tests
# cover several programs and partial blocks.
_INTERPRETER_BLOCK_Q = 8
# (queries per program, warps) the CUDA autotuner chooses from.
_TUNE_CONFIGS = ((32, 4), (64, 4), (128, 4), (64, 8))


def triton_interpreting() -> bool:
    """Whether Triton's CPU interpreter is on (``TRITON_INTERPRET=1``).

    Returns:
        bool: Read the way Triton reads it (``triton.knobs``), so True
        means that a kernel built now would be interpreted. False when
        Triton does not import.
    """
    if triton is None:
        return False
    knobs = getattr(triton, 'knobs', None)
    if knobs is not None:
        return bool(knobs.runtime.interpret)
    return os.environ.get('TRITON_INTERPRET', '0').lower() in ('1', 'true')


def triton_available(device) -> bool:
    """Whether the Triton kernel can run on ``device``.

    Args:
        device (str | torch.device): Where the tensors live.

    Returns:
        bool: On CUDA, True when CUDA is usable, Triton imports and the
        GPU is a Volta or newer; on CPU, True only under Triton's
        interpreter (``TRITON_INTERPRET=1``; slow, for tests); False on
        other devices.
    """
    device = torch.device(device)
    if triton is None:
        return False
    if device.type == 'cuda':
        return torch.cuda.is_available() and _triton_supports_gpu(
            device.index if device.index is not None else
            torch.cuda.current_device())
    return device.type == 'cpu' and triton_interpreting()


@functools.lru_cache(maxsize=None)
def _triton_supports_gpu(index: int) -> bool:
    # Triton generates code for Volta (sm_70) and newer, as PyTorch's
    # inductor assumes; older GPUs keep the other kernels.
    return torch.cuda.get_device_capability(index) >= (7, 0)


if tl is not None:

    def _ms_deform_attn_kernel(value_ptr, shapes_ptr, starts_ptr, loc_ptr,
                               attn_ptr, out_ptr, grad_value_ptr,
                               grad_loc_ptr, grad_attn_ptr, num_value,
                               num_query, num_heads, head_dim, row_stride,
                               query_bucket, NUM_LEVELS: tl.constexpr,
                               NUM_POINTS: tl.constexpr,
                               BACKWARD: tl.constexpr, BLOCK_Q: tl.constexpr,
                               BLOCK_C: tl.constexpr):
        """Forward (``BACKWARD=False``: writes ``out_ptr``) or backward
        (reads the output gradient from ``out_ptr``, writes the three
        gradients) of one tile: BLOCK_Q queries of one (batch, head), all
        channels. A program owning every channel of its queries keeps the
        sum over levels and points, and the channel sums of the location
        and weight gradients, in registers; only grad_value, shared by all
        queries that sample a pixel, needs atomic adds. ``query_bucket``
        is only an autotuning key."""
        # Only builtins of triton.language below: its jitted helpers
        # (tl.cdiv, tl.zeros, tl.sum) are decorated when triton is imported,
        # so in a process that turned the interpreter on later they cannot
        # be called from an interpreted kernel.
        num_q_blocks = (num_query + BLOCK_Q - 1) // BLOCK_Q
        pid = tl.program_id(0)
        batch_head = pid // num_q_blocks
        q_block = pid % num_q_blocks
        batch = (batch_head // num_heads).to(tl.int64)
        head = batch_head % num_heads
        q = q_block * BLOCK_Q + tl.arange(0, BLOCK_Q)
        c = tl.arange(0, BLOCK_C)
        q_mask = q < num_query
        c_mask = c < head_dim
        tile_mask = q_mask[:, None] & c_mask[None, :]
        channel_offset = batch * num_value * row_stride + head * head_dim
        query_head = (batch * num_query + q) * num_heads + head
        out_offset = (query_head * head_dim)[:, None] + c[None, :]
        loc_base = query_head * (NUM_LEVELS * NUM_POINTS * 2)
        attn_base = query_head * (NUM_LEVELS * NUM_POINTS)
        if BACKWARD:
            grad_out = tl.load(out_ptr + out_offset, mask=tile_mask,
                               other=0.0).to(tl.float32)
        else:
            acc = tl.full([BLOCK_Q, BLOCK_C], 0.0, tl.float32)
        # Levels in a runtime loop, points unrolled: 16 gathers in flight
        # per iteration, and a backward kernel that compiles in seconds
        # (unrolling the levels too took a minute).
        for level in tl.range(NUM_LEVELS):
            height = tl.load(shapes_ptr + 2 * level).to(tl.int32)
            width = tl.load(shapes_ptr + 2 * level + 1).to(tl.int32)
            height_f = height.to(tl.float32)
            width_f = width.to(tl.float32)
            level_offset = (channel_offset +
                            tl.load(starts_ptr + level) * row_stride)
            for point in tl.static_range(NUM_POINTS):
                k = level * NUM_POINTS + point
                loc_x = tl.load(loc_ptr + loc_base + 2 * k, mask=q_mask,
                                other=0.0).to(tl.float32)
                loc_y = tl.load(loc_ptr + loc_base + 2 * k + 1, mask=q_mask,
                                other=0.0).to(tl.float32)
                weight = tl.load(attn_ptr + attn_base + k, mask=q_mask,
                                 other=0.0).to(tl.float32)
                # grid_sample's un-normalisation, term for term.
                x = ((loc_x * 2.0 - 1.0 + 1.0) * width_f - 1.0) * 0.5
                y = ((loc_y * 2.0 - 1.0 + 1.0) * height_f - 1.0) * 0.5
                # Far-away points would overflow int32; clamped, they stay
                # wholly outside the map, where every corner is zero.
                x = tl.minimum(tl.maximum(x, -2.0), width_f + 1.0)
                y = tl.minimum(tl.maximum(y, -2.0), height_f + 1.0)
                x0f = tl.floor(x)
                y0f = tl.floor(y)
                lx = x - x0f
                ly = y - y0f
                hx = 1.0 - lx
                hy = 1.0 - ly
                x0 = x0f.to(tl.int32)
                y0 = y0f.to(tl.int32)
                in_x0 = (x0 >= 0) & (x0 < width)
                in_x1 = (x0 + 1 >= 0) & (x0 + 1 < width)
                in_y0 = (y0 >= 0) & (y0 < height) & q_mask
                in_y1 = (y0 + 1 >= 0) & (y0 + 1 < height) & q_mask
                pixel = (y0 * width + x0).to(tl.int64)
                off00 = level_offset + pixel * row_stride
                off01 = off00 + row_stride
                off10 = off00 + width.to(tl.int64) * row_stride
                off11 = off10 + row_stride
                off00 = off00[:, None] + c[None, :]
                off01 = off01[:, None] + c[None, :]
                off10 = off10[:, None] + c[None, :]
                off11 = off11[:, None] + c[None, :]
                m00 = (in_y0 & in_x0)[:, None] & c_mask[None, :]
                m01 = (in_y0 & in_x1)[:, None] & c_mask[None, :]
                m10 = (in_y1 & in_x0)[:, None] & c_mask[None, :]
                m11 = (in_y1 & in_x1)[:, None] & c_mask[None, :]
                v00 = tl.load(value_ptr + off00, mask=m00,
                              other=0.0).to(tl.float32)
                v01 = tl.load(value_ptr + off01, mask=m01,
                              other=0.0).to(tl.float32)
                v10 = tl.load(value_ptr + off10, mask=m10,
                              other=0.0).to(tl.float32)
                v11 = tl.load(value_ptr + off11, mask=m11,
                              other=0.0).to(tl.float32)
                w00 = hy * hx
                w01 = hy * lx
                w10 = ly * hx
                w11 = ly * lx
                if BACKWARD:
                    # <grad_out, corner value> per query is all that the
                    # weight and location gradients need. tl.sum's own
                    # combine function, which the interpreter runs as a
                    # numpy sum.
                    d00 = tl.reduce(grad_out * v00, 1,
                                    tl.standard._sum_combine)
                    d01 = tl.reduce(grad_out * v01, 1,
                                    tl.standard._sum_combine)
                    d10 = tl.reduce(grad_out * v10, 1,
                                    tl.standard._sum_combine)
                    d11 = tl.reduce(grad_out * v11, 1,
                                    tl.standard._sum_combine)
                    grad_weight = (w00 * d00 + w01 * d01 + w10 * d10 +
                                   w11 * d11)
                    # d(pixel x)/d(loc x) = width, likewise y and height.
                    grad_x = weight * width_f * (hy * (d01 - d00) + ly *
                                                 (d11 - d10))
                    grad_y = weight * height_f * (hx * (d10 - d00) + lx *
                                                  (d11 - d01))
                    tl.store(grad_attn_ptr + attn_base + k,
                             grad_weight.to(grad_attn_ptr.dtype.element_ty),
                             mask=q_mask)
                    tl.store(grad_loc_ptr + loc_base + 2 * k,
                             grad_x.to(grad_loc_ptr.dtype.element_ty),
                             mask=q_mask)
                    tl.store(grad_loc_ptr + loc_base + 2 * k + 1,
                             grad_y.to(grad_loc_ptr.dtype.element_ty),
                             mask=q_mask)
                    tl.atomic_add(grad_value_ptr + off00,
                                  (weight * w00)[:, None] * grad_out,
                                  mask=m00, sem='relaxed')
                    tl.atomic_add(grad_value_ptr + off01,
                                  (weight * w01)[:, None] * grad_out,
                                  mask=m01, sem='relaxed')
                    tl.atomic_add(grad_value_ptr + off10,
                                  (weight * w10)[:, None] * grad_out,
                                  mask=m10, sem='relaxed')
                    tl.atomic_add(grad_value_ptr + off11,
                                  (weight * w11)[:, None] * grad_out,
                                  mask=m11, sem='relaxed')
                else:
                    acc += ((weight * w00)[:, None] * v00 +
                            (weight * w01)[:, None] * v01 +
                            (weight * w10)[:, None] * v10 +
                            (weight * w11)[:, None] * v11)
        if not BACKWARD:
            tl.store(out_ptr + out_offset, acc.to(out_ptr.dtype.element_ty),
                     mask=tile_mask)


@functools.lru_cache(maxsize=2)
def _kernels(interpret: bool) -> Tuple[object, object]:
    """The forward and backward launchers, built in the current mode.

    Args:
        interpret (bool): Whether Triton's interpreter is on now (the
            decorator reads it; the argument keys the cache).

    Returns:
        tuple: Forward and backward launchers: plain interpreted kernels,
        or, on CUDA, kernels autotuned over :data:`_TUNE_CONFIGS`.
    """
    # Not specialised on the sizes that change with the input (each new
    # input size would compile anew); specialised on the channel count and
    # row stride, whose divisibility lets the gathers load 16 bytes at once.
    dynamic = ['num_value', 'num_query', 'query_bucket']
    forward = triton.jit(_ms_deform_attn_kernel, do_not_specialize=dynamic)
    backward = triton.jit(_ms_deform_attn_kernel, do_not_specialize=dynamic)
    if interpret:
        return forward, backward
    configs = [
        triton.Config({'BLOCK_Q': block_q}, num_warps=warps)
        for block_q, warps in _TUNE_CONFIGS
    ]
    key = ['query_bucket', 'head_dim', 'NUM_LEVELS', 'NUM_POINTS']
    forward = triton.autotune(configs, key=key)(forward)
    # Each configuration tried adds into grad_value: zero it after each.
    backward = triton.autotune(
        configs, key=key, reset_to_zero=['grad_value_ptr'])(backward)
    return forward, backward


def _launch(value: Tensor, spatial_shapes: Tensor, level_start_index: Tensor,
            sampling_locations: Tensor, attention_weights: Tensor,
            out: Tensor, grads: Tuple[Tensor, Tensor, Tensor],
            backward: bool) -> None:
    """Run the forward or backward kernel over all (batch, head, query
    block) tiles; tensors must be contiguous and on one device."""
    num_batch, num_value, num_heads, head_dim = value.shape
    _, num_query, _, num_levels, num_points, _ = sampling_locations.shape
    interpret = triton_interpreting()
    kernel = _kernels(interpret)[int(backward)]
    args = (value, spatial_shapes, level_start_index, sampling_locations,
            attention_weights, out) + tuple(grads) + (
                num_value, num_query, num_heads, head_dim,
                num_heads * head_dim, triton.next_power_of_2(num_query))
    meta = dict(NUM_LEVELS=num_levels, NUM_POINTS=num_points,
                BACKWARD=backward,
                BLOCK_C=triton.next_power_of_2(head_dim))

    def grid(kwargs):
        return (num_batch * num_heads *
                triton.cdiv(num_query, kwargs['BLOCK_Q']), )

    if interpret:
        meta['BLOCK_Q'] = _INTERPRETER_BLOCK_Q
    # Launch on the tensors' GPU, not the current one.
    with torch.cuda.device(value.device) if value.is_cuda else nullcontext():
        kernel[grid](*args, **meta)


class TritonMultiScaleDeformAttnFunction(torch.autograd.Function):
    """Autograd function of the Triton kernel (not twice differentiable).

    Under AMP no input is cast (``custom_fwd`` without ``cast_inputs``):
    fp32 copies of a bf16 value would double the bytes the gathers read,
    so the kernel converts each load to fp32 and accumulates in fp32
    instead (see the module docstring). ``custom_bwd`` runs the backward
    pass in the forward pass's autocast state.
    """

    @staticmethod
    @torch.amp.custom_fwd(device_type='cuda')
    def forward(ctx, value: Tensor, spatial_shapes: Tensor,
                level_start_index: Tensor, sampling_locations: Tensor,
                attention_weights: Tensor) -> Tensor:
        """Sample and sum.

        Args:
            ctx: Autograd context.
            value (Tensor): [N, S, heads, C].
            spatial_shapes (Tensor): [L, 2] (h, w), int64, on the device.
            level_start_index (Tensor): [L], int64, on the device.
            sampling_locations (Tensor): [N, Lq, heads, L, P, 2].
            attention_weights (Tensor): [N, Lq, heads, L, P].

        Returns:
            Tensor: [N, Lq, heads * C] in ``value``'s dtype.
        """
        value = value.contiguous()
        sampling_locations = sampling_locations.contiguous()
        attention_weights = attention_weights.contiguous()
        num_batch, _, num_heads, head_dim = value.shape
        num_query = sampling_locations.shape[1]
        out = value.new_empty(num_batch, num_query, num_heads * head_dim)
        if out.numel():
            # The unused gradient pointers get any tensor of the device.
            _launch(value, spatial_shapes, level_start_index,
                    sampling_locations, attention_weights, out,
                    (out, out, out), backward=False)
        ctx.save_for_backward(value, spatial_shapes, level_start_index,
                              sampling_locations, attention_weights)
        return out

    @staticmethod
    @torch.amp.custom_bwd(device_type='cuda')
    @once_differentiable
    def backward(ctx, grad_output: Tensor) -> tuple:
        """Gradients of value, sampling locations and attention weights.

        Args:
            ctx: Autograd context.
            grad_output (Tensor): [N, Lq, heads * C].

        Returns:
            tuple: ``grad_value`` [N, S, heads, C], None, None,
            ``grad_sampling_locations`` [N, Lq, heads, L, P, 2] and
            ``grad_attention_weights`` [N, Lq, heads, L, P], each in its
            input's dtype.
        """
        (value, spatial_shapes, level_start_index, sampling_locations,
         attention_weights) = ctx.saved_tensors
        # fp32 atomics: one rounding to a half dtype at the end, not one
        # per added sample.
        grad_value = torch.zeros_like(value, dtype=torch.float32)
        grad_locations = torch.empty_like(sampling_locations)
        grad_weights = torch.empty_like(attention_weights)
        if grad_output.numel():
            _launch(value, spatial_shapes, level_start_index,
                    sampling_locations, attention_weights,
                    grad_output.contiguous(),
                    (grad_value, grad_locations, grad_weights),
                    backward=True)
        else:
            grad_locations.zero_()
            grad_weights.zero_()
        return (grad_value.to(value.dtype), None, None, grad_locations,
                grad_weights)


def triton_multi_scale_deform_attn(value: Tensor, spatial_shapes: Tensor,
                                   level_start_index: Tensor,
                                   sampling_locations: Tensor,
                                   attention_weights: Tensor) -> Tensor:
    """Multi-scale deformable attention with the Triton kernel.

    Args:
        value (Tensor): [N, S, heads, C], the levels flattened and
            concatenated (S = sum of h * w); fp32, fp16 or bf16.
        spatial_shapes (Tensor): [L, 2] (h, w) of each level, integer.
        level_start_index (Tensor): [L] offset of each level in ``value``.
        sampling_locations (Tensor): [N, Lq, heads, L, P, 2] normalised
            (x, y); (0, 0) is the top-left corner of the map, (1, 1) the
            bottom-right one. Any float dtype.
        attention_weights (Tensor): [N, Lq, heads, L, P], any float dtype.

    Returns:
        Tensor: [N, Lq, heads * C] in ``value``'s dtype, sampled and summed
        in fp32. Differentiable in ``value``, ``sampling_locations`` and
        ``attention_weights``.

    Raises:
        RuntimeError: Triton cannot run on the tensors' device.
        ValueError: The shapes do not agree.
    """
    if not triton_available(value.device):
        raise RuntimeError(
            f'The Triton deformable-attention kernel cannot run on '
            f'{value.device}: it needs CUDA and an importable triton, or '
            'TRITON_INTERPRET=1 (set before the first call) for CPU '
            'tensors.')
    if value.dim() != 4 or sampling_locations.dim() != 6:
        raise ValueError(
            'value must be [N, S, heads, C] and sampling_locations [N, Lq, '
            f'heads, levels, points, 2]; got {tuple(value.shape)} and '
            f'{tuple(sampling_locations.shape)}')
    num_batch, num_value, num_heads, _ = value.shape
    (_, num_query, _, num_levels, num_points,
     _) = sampling_locations.shape
    if (sampling_locations.shape[0] != num_batch
            or sampling_locations.shape[2] != num_heads
            or sampling_locations.shape[5] != 2):
        raise ValueError(
            f'sampling_locations {tuple(sampling_locations.shape)} does not '
            f'match value {tuple(value.shape)}')
    if tuple(attention_weights.shape) != (num_batch, num_query, num_heads,
                                          num_levels, num_points):
        raise ValueError(
            f'attention_weights {tuple(attention_weights.shape)} does not '
            f'match sampling_locations {tuple(sampling_locations.shape)}')
    if tuple(spatial_shapes.shape) != (num_levels, 2) or tuple(
            level_start_index.shape) != (num_levels, ):
        raise ValueError(
            f'spatial_shapes {tuple(spatial_shapes.shape)} and '
            f'level_start_index {tuple(level_start_index.shape)} must be '
            f'[{num_levels}, 2] and [{num_levels}]')
    spatial_shapes = spatial_shapes.to(value.device, torch.long).contiguous()
    level_start_index = level_start_index.to(value.device,
                                             torch.long).contiguous()
    return TritonMultiScaleDeformAttnFunction.apply(value, spatial_shapes,
                                                    level_start_index,
                                                    sampling_locations,
                                                    attention_weights)
