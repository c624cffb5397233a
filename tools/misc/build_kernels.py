# Copyright (c) mmavs contributors. All rights reserved.
"""Build mmcv's deformable-attention CUDA kernel for mmavs ahead of use.

Only needed with mmcv-lite (or an mmcv without compiled ops) on a CUDA
machine; full mmcv has the kernel already. Needs a CUDA build of torch and
the CUDA toolkit (nvcc); no GPU is needed to build.

Usage::

    python tools/misc/build_kernels.py [--arch 8.0 9.0] [--build-dir DIR]

Later processes find the build made for their GPU (``MMAVS_KERNEL_DIR``
overrides where builds are kept) and use it on CUDA without compiling
again. Without ``--arch`` (or ``TORCH_CUDA_ARCH_LIST``) it builds for the
visible GPUs.
"""
import argparse
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(
        description='Build the deformable-attention CUDA kernel')
    parser.add_argument(
        '--arch', nargs='+', default=None,
        help='CUDA architectures, e.g. 8.0 9.0 (default: '
        '$TORCH_CUDA_ARCH_LIST, else the visible GPUs)')
    parser.add_argument(
        '--build-dir', type=Path, default=None,
        help='build folder (default: the one mmavs looks in, '
        '<MMAVS_KERNEL_DIR or ~/.cache/mmavs/kernels/...>/arch-<archs>)')
    parser.add_argument('--verbose', action='store_true',
                        help='print the compiler commands')
    args = parser.parse_args()

    import mmavs  # noqa: F401  (installs the stand-in mmcv._ext)
    from mmavs.ops.ms_deform_attn_build import (
        KERNEL_NAMES, KernelBuildError, build_ms_deform_attn_kernel,
        kernel_dir, kernel_root)
    from mmavs.ops import has_compiled_mmcv_ops
    if has_compiled_mmcv_ops():
        print('This mmcv has compiled ops: nothing to build.')
        return 0
    start = time.perf_counter()
    try:
        build_dir = args.build_dir or kernel_dir(args.arch)
        module = build_ms_deform_attn_kernel(
            build_dir, arch_list=args.arch, verbose=args.verbose)
    except KernelBuildError as error:
        print(f'error: {error}', file=sys.stderr)
        return 1
    missing = [name for name in KERNEL_NAMES if not hasattr(module, name)]
    if missing:
        print(f'error: the built module lacks {missing}', file=sys.stderr)
        return 1
    print(f'built {module.__file__} in {time.perf_counter() - start:.1f} s')
    if build_dir.parent != kernel_root():
        print(f'note: mmavs looks for builds in {kernel_root()}/arch-*, '
              f'not in {build_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
