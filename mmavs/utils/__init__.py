# Copyright (c) mmavs contributors. All rights reserved.
from .compat import (MissingCompiledOpError, apply_compat_patches,
                     has_compiled_mmcv_ops, has_mmcv_kernel,
                     provide_mmcv_kernels)
from .setup_env import register_all_modules

__all__ = [
    'MissingCompiledOpError', 'apply_compat_patches', 'has_compiled_mmcv_ops',
    'has_mmcv_kernel', 'provide_mmcv_kernels', 'register_all_modules'
]
