# Copyright (c) mmavs contributors. All rights reserved.
"""Make the OpenMMLab 2.x stack usable on machines it was not built for.

Two narrow fixes, both applied once by :func:`apply_compat_patches` when
``mmavs`` is imported:

1. **mmcv-lite without compiled ops.** A stand-in ``mmcv._ext`` is
   registered when the compiled extension is absent, so that ``mmseg.models``
   and ``mmdet.models`` import; see :mod:`mmavs.ops.mmcv_ext`.

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
from mmavs.ops.mmcv_ext import install_mmcv_ext_stand_in


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
