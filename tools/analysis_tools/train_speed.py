# Copyright (c) mmavs contributors. All rights reserved.
"""Training speed: s/iter, samples/s and peak memory, with and without the
data pipeline, in fp32 and mixed precision.

Usage::

    python tools/analysis_tools/train_speed.py CONFIG [--device cuda]
        [--data-root DIR | --synthetic] [--iters 20] [--warmup 3]
        [--workers 2] [--dtype fp32 bf16] [--kernels pytorch triton compiled]
        [--modes model end_to_end] [--out speed.json]

Three measurements per dtype (and deformable-attention kernel):

- ``loader``: the training dataloader alone (clips/s it delivers);
- ``model``: ``train_step`` on one batch fetched once (the pipeline
  excluded);
- ``end_to_end``: ``train_step`` on batches from the dataloader (the
  pipeline included: a slow loader shows up as the gap to ``model``).

Mixed precision on CUDA trains through mmengine's ``AmpOptimWrapper``, as
``tools/train.py --amp`` does; on CPU (no AMP wrapper there) the step runs
under ``torch.autocast``.

``--kernels`` trains once per deformable-attention kernel, chosen through
``MMAVS_MSDA_KERNEL`` (which overrides every layer's config); a kernel that
cannot run here is recorded as skipped, with the reason. Each run records
the kernel asked for and the one that ran. ``--modes`` picks the
measurements (``model`` alone is enough to compare kernels).

``--synthetic`` writes a synthetic set of the config's sub-task (at the
config's training size) into a temporary folder first.
"""
import argparse
import copy
import json
import os
import tempfile
import time
from contextlib import nullcontext

import torch


def parse_args():
    parser = argparse.ArgumentParser(description='Benchmark mmavs training')
    parser.add_argument('config')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--data-root')
    parser.add_argument('--synthetic', action='store_true')
    parser.add_argument('--num-clips', type=int, default=64)
    parser.add_argument('--image-size', type=int, default=None,
                        help='size of the synthetic frames (default: the '
                        "config's training scale)")
    parser.add_argument('--iters', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--workers', type=int, default=2)
    parser.add_argument('--batch-size', type=int, default=None)
    parser.add_argument('--dtype', nargs='+', default=['fp32'],
                        choices=['fp32', 'fp16', 'bf16'])
    parser.add_argument('--kernels', nargs='+', default=None,
                        choices=['auto', 'compiled', 'triton', 'pytorch'],
                        help='one run per deformable-attention kernel '
                        '(default: as configured)')
    parser.add_argument('--modes', nargs='+',
                        default=['model', 'end_to_end'],
                        choices=['model', 'end_to_end'])
    parser.add_argument('--out')
    return parser.parse_args()


def training_scale(cfg):
    for transform in cfg.train_dataloader.dataset.pipeline:
        for inner in transform.get('transforms', []):
            if 'scale' in inner:
                scale = inner['scale']
                return scale if isinstance(scale, int) else max(scale)
    return 224


def main():
    args = parse_args()
    import mmavs  # noqa: F401
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner import Runner
    from mmseg.registry import MODELS

    from mmavs.datasets import avs_dataset_class
    from mmavs.datasets.synthetic import make_synthetic_avsbench
    from mmavs.utils import register_all_modules
    from mmavs.utils.benchmark import (autocast, peak_memory_mb,
                                       reset_peak_memory, synchronize)

    register_all_modules()
    device = torch.device(args.device)
    cfg = Config.fromfile(args.config)
    loader_cfg = cfg.train_dataloader
    if args.synthetic:
        # Removed when the process exits.
        workspace = tempfile.TemporaryDirectory(prefix='mmavs_speed_')
        folder = workspace.name
        size = args.image_size or training_scale(cfg)
        task = avs_dataset_class(loader_cfg.dataset).TASK
        roots = make_synthetic_avsbench(
            folder, tasks=task,
            num_clips=dict(train=args.num_clips, val=2, test=2),
            image_size=size)
        loader_cfg.dataset.data_root = roots[task]
    elif args.data_root:
        loader_cfg.dataset.data_root = args.data_root
    loader_cfg.num_workers = args.workers
    loader_cfg.persistent_workers = args.workers > 0
    if args.batch_size:
        loader_cfg.batch_size = args.batch_size
    dataloader = Runner.build_dataloader(loader_cfg, seed=0)
    batch_size = loader_cfg.batch_size

    def batches():
        while True:
            yield from dataloader

    # The loader alone.
    stream = batches()
    for _ in range(args.warmup):
        next(stream)
    start = time.perf_counter()
    for _ in range(args.iters):
        next(stream)
    loader_s = (time.perf_counter() - start) / args.iters
    report = dict(config=args.config, device=str(device),
                  device_name=torch.cuda.get_device_name(device)
                  if device.type == 'cuda' else 'cpu',
                  # "fp32" on a GPU: PyTorch's defaults, recorded since
                  # TF32 convolutions are on and TF32 matmuls off by default.
                  tf32=dict(matmul=torch.backends.cuda.matmul.allow_tf32,
                            cudnn=torch.backends.cudnn.allow_tf32),
                  batch_size=batch_size, workers=args.workers,
                  loader=dict(s_per_batch=loader_s,
                              clips_per_s=batch_size / loader_s),
                  runs=[])
    print(f'loader ({args.workers} workers): {loader_s:.3f} s/batch, '
          f'{batch_size / loader_s:.2f} clips/s')

    from mmavs.ops import KERNEL_ENV, select_kernel
    kernels = args.kernels or [None]
    configured_kernel = os.environ.get(KERNEL_ENV)
    for kernel, dtype in ((k, d) for k in kernels for d in args.dtype):
        result = dict(dtype=dtype)
        if kernel is not None:
            os.environ[KERNEL_ENV] = kernel
            result['kernel'] = kernel
            try:
                result['kernel_used'] = select_kernel(device)
            except Exception as error:  # RuntimeError, KernelBuildError
                result['skipped'] = f'{type(error).__name__}: {error}'
                print(f'{kernel} {dtype}: skipped ({result["skipped"]})')
                report['runs'].append(result)
                continue
        label = dtype if kernel is None else f'{kernel} {dtype}'
        reset_peak_memory(device)
        # The same weights for every kernel and dtype.
        torch.manual_seed(0)
        model = MODELS.build(cfg.model).to(device)
        model.train()
        wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
        amp_wrapper = dtype != 'fp32' and device.type == 'cuda'
        if dtype == 'fp32' and wrapper_cfg.get('type') == 'AmpOptimWrapper':
            # The fp32 figure is fp32 even for configs that train with AMP.
            wrapper_cfg.type = 'OptimWrapper'
            for key in ('dtype', 'loss_scale'):
                wrapper_cfg.pop(key, None)
        if amp_wrapper:
            # What `tools/train.py --amp` trains with: mmengine's wrapper
            # (autocast inside train_step, loss scaling for fp16).
            wrapper_cfg.type = 'AmpOptimWrapper'
            wrapper_cfg.dtype = dict(fp16='float16', bf16='bfloat16')[dtype]
        optim_wrapper = build_optim_wrapper(model, wrapper_cfg)
        fixed_batch = next(stream)

        def step(batch, model=model, optim_wrapper=optim_wrapper):
            # mmengine has no AMP wrapper for CPU: plain autocast there.
            with nullcontext() if amp_wrapper else autocast(device, dtype):
                model.train_step(batch, optim_wrapper)

        for mode in args.modes:
            for _ in range(args.warmup):
                step(fixed_batch if mode == 'model' else next(stream))
            synchronize(device)
            start = time.perf_counter()
            for _ in range(args.iters):
                step(fixed_batch if mode == 'model' else next(stream))
            synchronize(device)
            seconds = (time.perf_counter() - start) / args.iters
            result[mode] = dict(s_per_iter=seconds,
                                clips_per_s=batch_size / seconds)
            print(f'{label} {mode:10s}: {seconds:.3f} s/iter, '
                  f'{batch_size / seconds:.2f} clips/s')
        result['memory'] = peak_memory_mb(device)
        if 'model' in result:
            result['loader_over_model_speed'] = (
                report['loader']['clips_per_s'] /
                result['model']['clips_per_s'])
            print(f'  loader delivers '
                  f'{result["loader_over_model_speed"]:.1f}x what the model '
                  'consumes')
        print('  memory ' + ', '.join(
            f'{k} {v:.0f}' for k, v in result['memory'].items()))
        report['runs'].append(result)
        # Freed before the next run, whose peak memory is counted anew.
        del model, optim_wrapper, step
    if args.kernels:
        os.environ.pop(KERNEL_ENV, None)
        if configured_kernel is not None:
            os.environ[KERNEL_ENV] = configured_kernel
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)


if __name__ == '__main__':
    main()
