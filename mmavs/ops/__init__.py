# Copyright (c) mmavs contributors. All rights reserved.
"""Operators and their kernels, kept apart from the ``nn.Module`` s that
call them (as mmcv keeps ``mmcv/ops``): the stand-in ``mmcv._ext``, the
build of mmcv's deformable-attention CUDA kernel, the Triton kernel, and
the entry point that picks one of them."""
from .mmcv_ext import (MissingCompiledOpError, has_compiled_mmcv_ops,
                       has_mmcv_kernel, install_mmcv_ext_stand_in,
                       provide_mmcv_kernels)
from .ms_deform_attn_build import KernelBuildError
from .multi_scale_deform_attn import (KERNEL_ENV, KERNELS, check_kernel_name,
                                      multi_scale_deform_attn, select_kernel)

__all__ = [
    'MissingCompiledOpError', 'has_compiled_mmcv_ops', 'has_mmcv_kernel',
    'install_mmcv_ext_stand_in', 'provide_mmcv_kernels', 'KernelBuildError',
    'KERNEL_ENV', 'KERNELS', 'check_kernel_name', 'multi_scale_deform_attn',
    'select_kernel'
]
