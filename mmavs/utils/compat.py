# Copyright (c) mmavs contributors. All rights reserved.
"""Make the OpenMMLab 2.x stack usable on machines it was not built for.

Two narrow fixes, both applied once by :func:`apply_compat_patches` when
``mmavs`` is imported:

1. **mmcv-lite without compiled ops.** ``mmseg.models`` and ``mmdet.models``
   import ``mmcv.ops`` at module level, which loads the compiled extension
   ``mmcv._ext``. ``mmcv-lite`` (the only mmcv that installs quickly on a CPU
   machine) has no such extension, so the imports fail even for models that
   never call a compiled kernel. When - and only when - the real extension is
   absent, a stand-in module is registered under ``mmcv._ext``. It answers
   every attribute lookup with a function that raises
   :class:`MissingCompiledOpError` naming the kernel, so code that needs a
   kernel (NMS, RoIAlign, deformable convolution, ...) fails loudly and
   says how to fix it, while pure-PyTorch code paths work. Kernels built
   without full mmcv (``mmavs.models.layers.ms_deform_attn_kernel``) are
   handed to it with :func:`provide_mmcv_kernels`. The stand-in has a
   real :class:`~importlib.machinery.ModuleSpec` because mmengine inspects
   ``__spec__`` of imported modules.

2. **torch >= 2.6 ``weights_only`` loading.** ``torch.load`` now refuses
   pickled objects it does not know, and checkpoints written by an mmengine
   ``Runner`` carry the message hub (``HistoryBuffer`` objects and numpy
   scalars/arrays). The exact globals such checkpoints contain are added to
   torch's allow-list of safe globals; ``weights_only`` stays on. One of
   them is ``builtins.getattr``: a ``HistoryBuffer`` pickles its statistics
   methods as ``getattr(HistoryBuffer, 'mean')``. The restricted unpickler
   still refuses to *call* anything that is not allow-listed, so a function
   fetched this way can only be stored, not run.
"""
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
        import importlib
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


def allow_mmengine_checkpoint_globals() -> None:
    """Allow the classes in Runner checkpoints under ``weights_only`` loading.

    Has no effect on torch versions without ``add_safe_globals`` (< 2.4),
    where ``torch.load`` does not restrict globals by default anyway.
    """
    import torch
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:
        return
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    try:
        multiarray = np._core.multiarray
    except AttributeError:  # numpy < 2
        multiarray = np.core.multiarray
    safe = [HistoryBuffer, getattr, multiarray._reconstruct,
            multiarray.scalar, np.ndarray, np.dtype]
    # numpy pickles dtypes as instances of their per-type classes
    # (``numpy.dtypes.Float64DType``, ...); list every concrete one.
    dtypes_module = getattr(np, 'dtypes', None)
    if dtypes_module is not None:
        safe.extend(
            getattr(dtypes_module, name) for name in dir(dtypes_module)
            if name.endswith('DType') and isinstance(
                getattr(dtypes_module, name), type))
    add_safe_globals(safe)


_APPLIED = False


def apply_compat_patches() -> None:
    """Apply both compatibility fixes once (idempotent)."""
    global _APPLIED
    if _APPLIED:
        return
    install_mmcv_ext_stand_in()
    allow_mmengine_checkpoint_globals()
    _APPLIED = True
