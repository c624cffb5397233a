# Copyright (c) mmavs contributors. All rights reserved.
"""A stand-in for mmcv's compiled extension ``mmcv._ext`` (mmcv-lite).

``mmseg.models`` and ``mmdet.models`` import ``mmcv.ops`` at module level,
which loads the compiled extension ``mmcv._ext``. ``mmcv-lite`` (the only
mmcv that installs quickly on a CPU machine) has no such extension, so the
imports fail even for models that never call a compiled kernel. When - and
only when - the real extension is absent, :func:`install_mmcv_ext_stand_in`
registers a stand-in module under ``mmcv._ext``. It answers every attribute
lookup with a function that raises :class:`MissingCompiledOpError` naming
the kernel, so code that needs a kernel (NMS, RoIAlign, deformable
convolution, ...) fails loudly and says how to fix it, while pure-PyTorch
code paths work. Kernels built without full mmcv
(:mod:`mmavs.ops.ms_deform_attn_build`) are handed to it with
:func:`provide_mmcv_kernels`. The stand-in has a real
:class:`~importlib.machinery.ModuleSpec` because mmengine inspects
``__spec__`` of imported modules.

This module imports nothing from mmcv at import time: it must run before
``mmcv.ops`` is first imported.
"""
import importlib
import importlib.machinery
import importlib.util
import sys
import types
from typing import Callable, Dict

MMCV_EXT_NAME = 'mmcv._ext'
INSTALL_FULL_MMCV_HINT = (
    'Install the full mmcv with compiled ops, for example '
    '`pip install mmcv==2.1.0 -f '
    'https://download.openmmlab.com/mmcv/dist/cu121/torch2.1/index.html` '
    '(pick the index matching your CUDA and torch), or build it with '
    '`MMCV_WITH_OPS=1 pip install --no-build-isolation mmcv==2.1.0`.')


class MissingCompiledOpError(RuntimeError):
    """Raised when a compiled mmcv kernel is called but mmcv has none."""


def _missing_kernel(op_name: str) -> Callable:
    """Build a function that stands in for the compiled kernel ``op_name``."""

    def kernel(*args, **kwargs):
        raise MissingCompiledOpError(
            f'The mmcv op "{op_name}" needs the compiled extension '
            f'{MMCV_EXT_NAME}, which this mmcv installation does not have '
            f'(mmcv-lite). {INSTALL_FULL_MMCV_HINT}')

    kernel.__name__ = op_name
    kernel.__qualname__ = op_name
    return kernel


class _StandInExtension(types.ModuleType):
    """Module object registered as ``mmcv._ext`` when the real one is absent.

    ``mmcv.utils.ext_loader.load_ext`` asserts ``hasattr(ext, name)`` for every
    kernel it wants; any non-dunder name therefore resolves to a raising stub.
    """

    is_mmavs_stand_in = True

    def __init__(self, name: str, doc: str):
        super().__init__(name, doc)
        # Names of real kernels set by ``provide_mmcv_kernels``.
        self.provided_kernels = set()

    def __getattr__(self, name: str):
        if name.startswith('__') and name.endswith('__'):
            raise AttributeError(name)
        stub = _missing_kernel(name)
        setattr(self, name, stub)
        return stub


def has_compiled_mmcv_ops() -> bool:
    """Whether the real compiled mmcv extension (``mmcv._ext``) is present.

    Returns:
        bool: ``True`` with full mmcv, ``False`` with mmcv-lite (even after the
        stand-in was installed).
    """
    module = sys.modules.get(MMCV_EXT_NAME)
    if module is not None:
        return not getattr(module, 'is_mmavs_stand_in', False)
    try:
        return importlib.util.find_spec(MMCV_EXT_NAME) is not None
    except (ImportError, ValueError):
        return False


def has_mmcv_kernel(name: str) -> bool:
    """Whether the kernel ``name`` of ``mmcv._ext`` can really run.

    Args:
        name (str): Kernel name, e.g. ``'ms_deform_attn_forward'``.

    Returns:
        bool: ``True`` with full mmcv (when it has the kernel), or when a
        kernel was handed to the stand-in with :func:`provide_mmcv_kernels`.
    """
    module = sys.modules.get(MMCV_EXT_NAME)
    if module is None or not getattr(module, 'is_mmavs_stand_in', False):
        if not has_compiled_mmcv_ops():
            return False
        return hasattr(importlib.import_module(MMCV_EXT_NAME), name)
    return name in module.provided_kernels


def provide_mmcv_kernels(kernels: Dict[str, Callable]) -> None:
    """Give the stand-in ``mmcv._ext`` real kernels built elsewhere.

    mmcv's Python ops keep a reference to the ``mmcv._ext`` module object and
    look kernels up on it at call time, so kernels set here are used by them
    (e.g. ``MultiScaleDeformableAttnFunction``) from then on.

    Args:
        kernels (dict[str, Callable]): Kernel name to function.

    Raises:
        RuntimeError: When the real compiled extension is loaded; its
            kernels are not replaced.
    """
    install_mmcv_ext_stand_in()
    module = sys.modules[MMCV_EXT_NAME]
    if not getattr(module, 'is_mmavs_stand_in', False):
        raise RuntimeError(
            'The compiled mmcv extension is installed; mmavs does not '
            'replace its kernels.')
    for name, kernel in kernels.items():
        setattr(module, name, kernel)
        module.provided_kernels.add(name)


def install_mmcv_ext_stand_in() -> bool:
    """Register the stand-in ``mmcv._ext`` if the compiled one is missing.

    Returns:
        bool: ``True`` if the stand-in was installed by this call or earlier,
        ``False`` when the real extension exists (nothing is changed then).
    """
    if has_compiled_mmcv_ops():
        return False
    module = sys.modules.get(MMCV_EXT_NAME)
    if module is None:
        module = _StandInExtension(
            MMCV_EXT_NAME,
            'Stand-in for the compiled mmcv extension, installed by mmavs '
            'because this mmcv (mmcv-lite) has none; every kernel not given '
            'to it with provide_mmcv_kernels raises MissingCompiledOpError.')
        module.__spec__ = importlib.machinery.ModuleSpec(
            MMCV_EXT_NAME, loader=None, origin='mmavs-stand-in')
        module.__file__ = None
        sys.modules[MMCV_EXT_NAME] = module
        import mmcv
        mmcv._ext = module
    return True
