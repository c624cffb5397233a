# Copyright (c) mmavs contributors. All rights reserved.
"""Deformable-attention kernels head to head: time, memory and error.

Usage::

    python tools/analysis_tools/ms_deform_attn_benchmark.py [--device cuda]
        [--kernels pytorch triton compiled] [--dtype fp32 bf16]
        [--sizes 224 512] [--batch 20] [--warmup 5] [--repeats 20]
        [--out msda.json]

Runs ``mmavs.ops.multi_scale_deform_attn`` (what ``MSDeformAttention``
calls, dtype casts included) with each kernel at the shapes of the
AVSegFormer encoder: levels at 1/8, 1/16 and 1/32 of a square input
(R50 and PVTv2-b5 alike, both project to 256 channels), 8 heads of 32
channels, 4 points per level, every token a query, batch = 4 clips x 5
frames = 20 images. Locations are each token's pixel centre plus offsets
of a few pixels, as a trained encoder samples.

``bf16`` mimics AMP: ``value`` in bf16, locations and weights in fp32 (as
the module computes them under autocast). Per kernel, dtype and size:
forward+backward and forward-only time (median of ``--repeats`` after
``--warmup``; CUDA events on CUDA), the peak memory of a forward+backward
step above its inputs, and the error of the output and of the gradients of
value, locations and weights against the PyTorch path run in fp32 on the
same inputs (max abs error / max abs reference). The Triton and compiled
kernels must stay within ``--max-error`` (fp32 1e-4, bf16 1e-2; both
accumulate in fp32): the tool exits with status 1 otherwise. The PyTorch
path's own bf16 error is reported, not checked.

On CPU only ``pytorch`` runs natively; ``triton`` runs in Triton's
interpreter (``TRITON_INTERPRET=1``, set by the tool for ``--device cpu``):
use tiny shapes (``--sizes 32 --batch 2 --embed-dims 32 --heads 2``) to
dry-run the flow.
"""
import argparse
import json
import os
import sys
import time

DTYPES = ('fp32', 'bf16', 'fp16')
MAX_ERROR = dict(fp32=1e-4, bf16=1e-2, fp16=2e-3)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Benchmark the deformable-attention kernels')
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--kernels', nargs='+',
                        default=['pytorch', 'triton', 'compiled'],
                        choices=['pytorch', 'triton', 'compiled'])
    parser.add_argument('--dtype', nargs='+', default=['fp32', 'bf16'],
                        choices=DTYPES)
    parser.add_argument('--sizes', type=int, nargs='+', default=[224, 512],
                        help='square input sizes (px)')
    parser.add_argument('--strides', type=int, nargs='+', default=[8, 16, 32])
    parser.add_argument('--batch', type=int, default=20,
                        help='images (clips x frames)')
    parser.add_argument('--embed-dims', type=int, default=256)
    parser.add_argument('--heads', type=int, default=8)
    parser.add_argument('--points', type=int, default=4)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--repeats', type=int, default=20)
    parser.add_argument('--max-error', nargs='+', default=[],
                        metavar='DTYPE=VALUE',
                        help='override the error limits, e.g. bf16=2e-2')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='write the figures as JSON')
    return parser.parse_args(argv)


def level_shapes(size, strides):
    """(h, w) of each encoder level of a square ``size`` input.

    Args:
        size (int): Input side (px), a multiple of the largest stride.
        strides (list[int]): Level strides, e.g. [8, 16, 32].

    Returns:
        list[tuple[int, int]]: One (h, w) per level.
    """
    return [(-(-size // stride), -(-size // stride)) for stride in strides]


def make_inputs(shapes, batch, heads, channels, points, value_dtype, device,
                generator):
    """Value, sampling locations and attention weights as the encoder makes
    them: every token queries, around its own pixel centre.

    Args:
        shapes (list[tuple[int, int]]): (h, w) per level.
        batch (int): Images.
        heads (int): Attention heads.
        channels (int): Channels per head.
        points (int): Points per level and head.
        value_dtype (torch.dtype): dtype of ``value``.
        device (torch.device): Where the tensors go.
        generator (torch.Generator): CPU random generator (same inputs on
            every device).

    Returns:
        tuple[Tensor, Tensor, Tensor]: value [N, S, heads, C] in
        ``value_dtype``, locations [N, S, heads, L, P, 2] and weights
        [N, S, heads, L, P] in fp32.
    """
    import torch

    from mmavs.models.layers import level_reference_points
    levels = len(shapes)
    num_value = sum(h * w for h, w in shapes)
    value = torch.randn(batch, num_value, heads, channels,
                        generator=generator)
    reference = level_reference_points(shapes, levels, torch.device('cpu'),
                                       torch.float32)
    # Offsets of a couple of pixels of each level, normalised by (w, h).
    offsets = torch.randn(batch, num_value, heads, levels, points, 2,
                          generator=generator) * 2.0
    normaliser = torch.tensor([[w, h] for h, w in shapes], dtype=torch.float32)
    locations = (reference[:, :, None, :, None, :] +
                 offsets / normaliser[None, None, None, :, None, :])
    weights = torch.randn(batch, num_value, heads, levels * points,
                          generator=generator).softmax(-1).view(
                              batch, num_value, heads, levels, points)
    return (value.to(device, value_dtype), locations.to(device),
            weights.to(device))


def kernel_unavailable(kernel, device):
    """Why ``kernel`` cannot run on ``device`` (None when it can).

    Args:
        kernel (str): ``'pytorch'``, ``'triton'`` or ``'compiled'``.
        device (torch.device): The benchmark's device.

    Returns:
        str | None: The reason, from the error the dispatcher raises.
    """
    from mmavs.ops import select_kernel
    try:
        select_kernel(device, kernel)
    except Exception as error:  # RuntimeError, KernelBuildError
        return f'{type(error).__name__}: {error}'
    return None


def _timer(device):
    """A function that times ``fn`` once and returns milliseconds (CUDA
    events on CUDA: the kernels' time, not the launch overhead)."""
    import torch

    if device.type == 'cuda':

        def run(fn):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end)
    else:

        def run(fn):
            start = time.perf_counter()
            fn()
            return (time.perf_counter() - start) * 1e3

    return run


def time_ms(fn, device, warmup, repeats):
    """Median and quartiles (ms) of ``repeats`` timed calls of ``fn``.

    Args:
        fn (callable): The work to time.
        device (torch.device): Its device.
        warmup (int): Untimed calls first (compilation, autotuning).
        repeats (int): Timed calls.

    Returns:
        dict: ``median``, ``q1``, ``q3`` (ms) and ``n``.
    """
    from mmavs.utils.benchmark import summarize, synchronize
    for _ in range(warmup):
        fn()
    synchronize(device)
    run = _timer(device)
    times = [run(fn) for _ in range(repeats)]
    summary = summarize(times)
    return dict(median=summary['median'], q1=summary['q1'],
                q3=summary['q3'], n=summary['n'])


def relative_errors(results, references):
    """max |result - reference| / max |reference| per tensor.

    Args:
        results (dict[str, Tensor]): Output and gradients of a kernel.
        references (dict[str, Tensor]): The same from the fp32 reference.

    Returns:
        dict[str, float]: One error per name.
    """
    errors = {}
    for name, reference in references.items():
        scale = reference.abs().max().clamp_min(1e-30)
        errors[name] = float(
            (results[name].float() - reference).abs().max() / scale)
    return errors


def bench_case(kernel, dtype, shapes, args, device, generator):
    """One kernel at one dtype and size: timings, memory and errors."""
    import torch

    from mmavs.ops import multi_scale_deform_attn
    torch_dtype = dict(fp32=torch.float32, bf16=torch.bfloat16,
                       fp16=torch.float16)[dtype]
    channels = args.embed_dims // args.heads
    value, locations, weights = make_inputs(shapes, args.batch, args.heads,
                                            channels, args.points,
                                            torch_dtype, device, generator)
    grad_out = torch.randn(value.shape[0], locations.shape[1],
                           args.embed_dims, generator=generator).to(
                               device, torch_dtype)
    leaves = [t.requires_grad_() for t in (value, locations, weights)]

    def forward(inputs, which=kernel):
        return multi_scale_deform_attn(
            inputs[0], shapes, inputs[1], inputs[2], kernel=which)

    def step():
        out = forward(leaves)
        return (out, ) + torch.autograd.grad(out, leaves, grad_out)

    names = ('output', 'grad_value', 'grad_locations', 'grad_weights')
    results = dict(zip(names, (t.detach() for t in step())))
    reference_leaves = [t.detach().float().requires_grad_() for t in leaves]
    reference_out = forward(reference_leaves, 'pytorch')
    references = dict(zip(names, (reference_out.detach(), ) + tuple(
        torch.autograd.grad(reference_out, reference_leaves,
                            grad_out.float()))))
    errors = relative_errors(results, references)
    del results, references, reference_out, reference_leaves

    def forward_only():
        with torch.no_grad():
            forward(leaves)

    if device.type == 'cuda':
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        torch.cuda.synchronize(device)
        peak = (torch.cuda.max_memory_allocated(device) - base) / 2**20
    else:
        peak = None
    return dict(
        kernel=kernel, dtype=dtype,
        forward_backward_ms=time_ms(step, device, args.warmup, args.repeats),
        forward_ms=time_ms(forward_only, device, args.warmup, args.repeats),
        step_peak_mib=peak, error=errors)


def main(argv=None):
    args = parse_args(argv)
    if args.device == 'cpu' and 'triton' in args.kernels:
        # Before triton is imported, so that its own helpers interpret too.
        os.environ.setdefault('TRITON_INTERPRET', '1')
    # This tool names the kernel of each run itself.
    os.environ.pop('MMAVS_MSDA_KERNEL', None)
    import torch

    import mmavs  # noqa: F401 (installs the mmcv._ext stand-in)
    device = torch.device(args.device)
    limits = dict(MAX_ERROR)
    for item in args.max_error:
        name, value = item.split('=')
        limits[name] = float(value)
    report = dict(
        device=str(device),
        device_name=torch.cuda.get_device_name(device)
        if device.type == 'cuda' else 'cpu',
        torch=torch.__version__, batch=args.batch,
        embed_dims=args.embed_dims, heads=args.heads, points=args.points,
        strides=args.strides, warmup=args.warmup, repeats=args.repeats,
        max_error=limits, skipped={}, cases=[])
    for kernel in args.kernels:
        reason = kernel_unavailable(kernel, device)
        if reason is not None:
            report['skipped'][kernel] = reason
            print(f'{kernel}: skipped ({reason})', flush=True)
    kernels = [k for k in args.kernels if k not in report['skipped']]
    failures = []
    for size in args.sizes:
        shapes = level_shapes(size, args.strides)
        num_query = sum(h * w for h, w in shapes)
        case = dict(size=size, shapes=shapes, num_query=num_query, runs=[])
        for dtype in args.dtype:
            for kernel in kernels:
                generator = torch.Generator().manual_seed(args.seed)
                run = bench_case(kernel, dtype, shapes, args, device,
                                 generator)
                checked = kernel != 'pytorch'
                worst = max(run['error'].values())
                run['error_checked'] = checked
                run['error_ok'] = (not checked) or worst <= limits[dtype]
                if not run['error_ok']:
                    failures.append(f'{kernel} {dtype} {size} px: error '
                                    f'{worst:.2e} > {limits[dtype]:g}')
                case['runs'].append(run)
                memory = ('' if run['step_peak_mib'] is None else
                          f', step peak {run["step_peak_mib"]:.0f} MiB')
                print(f'{size} px ({args.batch} x {num_query} queries) '
                      f'{kernel:8s} {dtype}: fwd+bwd '
                      f'{run["forward_backward_ms"]["median"]:.2f} ms, fwd '
                      f'{run["forward_ms"]["median"]:.2f} ms{memory}, '
                      f'max error {worst:.1e}'
                      f'{"" if checked else " (reference path)"}'
                      f'{"" if run["error_ok"] else "  FAILED"}',
                      flush=True)
        report['cases'].append(case)
    report['failures'] = failures
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    if failures:
        print('error check failed: ' + '; '.join(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
