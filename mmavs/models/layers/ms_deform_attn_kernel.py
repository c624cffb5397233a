# Copyright (c) mmavs contributors. All rights reserved.
"""mmcv's deformable-attention CUDA kernel, built without the rest of mmcv.

Full mmcv compiles some hundred kernels (tens of minutes, and no prebuilt
wheels for recent torch releases), while AVSegFormer needs two of them. The
mmcv wheels, ``mmcv-lite`` included, ship the CUDA sources, so this module
compiles just ``ms_deform_attn_forward``/``ms_deform_attn_backward`` with
``torch.utils.cpp_extension`` (about a minute on two cores) and hands them
to the stand-in ``mmcv._ext`` (:func:`mmavs.utils.provide_mmcv_kernels`).
mmcv's own ``MultiScaleDeformableAttnFunction`` then runs them unchanged.

The build lands in :func:`default_kernel_dir`, keyed by the torch, CUDA,
Python and mmcv versions, so later processes load it in milliseconds.
:class:`~mmavs.models.layers.MSDeformAttention` loads a kernel built before
on its own; it builds one when it is forced to use the kernel
(``use_compiled=True``) or when the environment sets
``MMAVS_BUILD_KERNELS=1``. ``tools/misc/build_kernels.py`` builds it ahead.
"""
import hashlib
import importlib.util
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from types import ModuleType
from typing import List, Optional, Sequence

from mmavs.utils import has_mmcv_kernel, provide_mmcv_kernels

KERNEL_NAMES = ('ms_deform_attn_forward', 'ms_deform_attn_backward')
EXTENSION_NAME = 'mmavs_ms_deform_attn'
BUILD_ENV = 'MMAVS_BUILD_KERNELS'
KERNEL_DIR_ENV = 'MMAVS_KERNEL_DIR'
DEFAULT_CUDA_HOME = '/usr/local/cuda'
# Relative to mmcv/ops/csrc; the .cu file is compiled, the rest is included.
MMCV_SOURCES = ('pytorch/cuda/ms_deform_attn_cuda.cu',
                'common/cuda/ms_deform_attn_cuda_kernel.cuh',
                'common/cuda/common_cuda_helper.hpp',
                'common/pytorch_cuda_helper.hpp')

# Python entry points with the names and keyword arguments that mmcv's
# MultiScaleDeformableAttnFunction passes to ``mmcv._ext``.
BINDING_SOURCE = r'''
#include <c10/core/DeviceGuard.h>
#include <torch/extension.h>

at::Tensor ms_deform_attn_cuda_forward(
    const at::Tensor &value, const at::Tensor &spatial_shapes,
    const at::Tensor &level_start_index, const at::Tensor &sampling_loc,
    const at::Tensor &attn_weight, const int im2col_step);

void ms_deform_attn_cuda_backward(
    const at::Tensor &value, const at::Tensor &spatial_shapes,
    const at::Tensor &level_start_index, const at::Tensor &sampling_loc,
    const at::Tensor &attn_weight, const at::Tensor &grad_output,
    at::Tensor &grad_value, at::Tensor &grad_sampling_loc,
    at::Tensor &grad_attn_weight, const int im2col_step);

static at::Tensor forward_on_device(
    const at::Tensor &value, const at::Tensor &spatial_shapes,
    const at::Tensor &level_start_index, const at::Tensor &sampling_loc,
    const at::Tensor &attn_weight, int64_t im2col_step) {
  TORCH_CHECK(value.is_cuda(), "ms_deform_attn_forward needs CUDA tensors");
  const at::DeviceGuard guard(value.device());
  return ms_deform_attn_cuda_forward(value, spatial_shapes, level_start_index,
                                     sampling_loc, attn_weight,
                                     static_cast<int>(im2col_step));
}

static void backward_on_device(
    const at::Tensor &value, const at::Tensor &spatial_shapes,
    const at::Tensor &level_start_index, const at::Tensor &sampling_loc,
    const at::Tensor &attn_weight, const at::Tensor &grad_output,
    at::Tensor &grad_value, at::Tensor &grad_sampling_loc,
    at::Tensor &grad_attn_weight, int64_t im2col_step) {
  TORCH_CHECK(value.is_cuda(), "ms_deform_attn_backward needs CUDA tensors");
  const at::DeviceGuard guard(value.device());
  ms_deform_attn_cuda_backward(value, spatial_shapes, level_start_index,
                               sampling_loc, attn_weight, grad_output,
                               grad_value, grad_sampling_loc, grad_attn_weight,
                               static_cast<int>(im2col_step));
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("ms_deform_attn_forward", &forward_on_device,
        "multi-scale deformable attention, forward (mmcv kernel)",
        py::arg("value"), py::arg("value_spatial_shapes"),
        py::arg("value_level_start_index"), py::arg("sampling_locations"),
        py::arg("attention_weights"), py::arg("im2col_step"));
  m.def("ms_deform_attn_backward", &backward_on_device,
        "multi-scale deformable attention, backward (mmcv kernel)",
        py::arg("value"), py::arg("value_spatial_shapes"),
        py::arg("value_level_start_index"), py::arg("sampling_locations"),
        py::arg("attention_weights"), py::arg("grad_output"),
        py::arg("grad_value"), py::arg("grad_sampling_loc"),
        py::arg("grad_attn_weight"), py::arg("im2col_step"));
}
'''

_LOCK = threading.Lock()
# Whether this process already looked for a built kernel and found none, so
# that forward passes do not touch the file system again.
_SEARCHED_WITHOUT_RESULT = False


class KernelBuildError(RuntimeError):
    """Raised when the deformable-attention kernel cannot be built."""


def mmcv_csrc_dir() -> Path:
    """The CUDA sources shipped inside the installed mmcv.

    Returns:
        Path: ``<site-packages>/mmcv/ops/csrc``.

    Raises:
        KernelBuildError: When a source file the build needs is missing.
    """
    import mmcv
    root = Path(mmcv.__file__).parent / 'ops' / 'csrc'
    missing = [str(root / name) for name in MMCV_SOURCES
               if not (root / name).is_file()]
    if missing:
        raise KernelBuildError(
            f'mmcv {mmcv.__version__} at {Path(mmcv.__file__).parent} lacks '
            f'the CUDA sources of deformable attention: {", ".join(missing)}. '
            'Install an mmcv (or mmcv-lite) 2.x wheel, which ships them.')
    return root


def default_kernel_dir() -> Path:
    """Where the kernel is built and looked for.

    ``$MMAVS_KERNEL_DIR`` when set, else a folder under ``~/.cache/mmavs``
    named by the versions a compiled extension depends on and by the
    binding source, so an older build is never loaded by mistake.

    Returns:
        Path: The folder (it may not exist yet).
    """
    override = os.environ.get(KERNEL_DIR_ENV)
    if override:
        return Path(override).expanduser()
    import mmcv
    import torch
    binding_hash = hashlib.sha256(BINDING_SOURCE.encode()).hexdigest()[:8]
    key = (f'torch{torch.__version__}-cuda{torch.version.cuda}-'
           f'py{sys.version_info.major}{sys.version_info.minor}-'
           f'mmcv{mmcv.__version__}-{binding_hash}').replace('+', '_')
    return Path.home() / '.cache' / 'mmavs' / 'kernels' / key


def _is_toolkit(folder: Optional[str]) -> bool:
    return bool(folder) and (Path(folder) / 'bin' / 'nvcc').exists() and (
        Path(folder) / 'include' / 'cuda_runtime.h').is_file()


def _checked_cuda_home() -> Path:
    """The CUDA toolkit that torch's extension builder will use.

    torch takes the folder above the first ``nvcc`` on ``PATH`` when
    ``CUDA_HOME`` is unset; where that ``nvcc`` is a wrapper script (say in
    ``/usr/local/bin``) the folder is no toolkit, and ``/usr/local/cuda`` is
    used instead when it is one.
    """
    import torch
    from torch.utils import cpp_extension
    if torch.version.cuda is None:
        raise KernelBuildError(
            f'torch {torch.__version__} is built without CUDA; the '
            'deformable-attention kernel needs a CUDA build of torch.')
    home = cpp_extension.CUDA_HOME
    if _is_toolkit(home):
        return Path(home)
    if not os.environ.get('CUDA_HOME') and _is_toolkit(DEFAULT_CUDA_HOME):
        # torch's builder reads this module attribute when it builds.
        cpp_extension.CUDA_HOME = DEFAULT_CUDA_HOME
        return Path(DEFAULT_CUDA_HOME)
    if not home or not (Path(home) / 'bin' / 'nvcc').exists():
        raise KernelBuildError(
            'No CUDA compiler found (CUDA_HOME='
            f'{home!r}); install the CUDA toolkit {torch.version.cuda} and '
            'set CUDA_HOME to its root (the folder holding bin/nvcc).')
    raise KernelBuildError(
        f'CUDA_HOME={home} has no include/cuda_runtime.h; set CUDA_HOME '
        'to the CUDA toolkit root (e.g. /usr/local/cuda), not to the '
        'folder of an nvcc wrapper.')


def _include_dirs(csrc: Path, cuda_home: Path) -> List[str]:
    """mmcv's header folders, plus the CUDA library headers from pip.

    torch's CUDA headers include the cuSPARSE/cuBLAS headers. A toolkit
    installed for compiling only may lack them, while torch's own pip
    dependencies (``nvidia-*``) ship them; those are added then.
    """
    dirs = [str(csrc / 'common'), str(csrc / 'common' / 'cuda')]
    if (cuda_home / 'include' / 'cusparse.h').is_file():
        return dirs
    spec = importlib.util.find_spec('nvidia')
    for location in (spec.submodule_search_locations or []) if spec else []:
        for header in sorted(Path(location).glob('**/include/cusparse.h')):
            dirs.append(str(header.parent))
    return dirs


def build_ms_deform_attn_kernel(build_dir: Optional[Path] = None,
                                arch_list: Optional[Sequence[str]] = None,
                                verbose: bool = False) -> ModuleType:
    """Compile (or reuse) the kernel and import it.

    A build whose sources and flags are unchanged is reused as it is.

    Args:
        build_dir (Path, optional): Build folder. Defaults to
            :func:`default_kernel_dir`.
        arch_list (Sequence[str], optional): CUDA architectures, e.g.
            ``['9.0']``. Defaults to ``$TORCH_CUDA_ARCH_LIST``, else the
            visible GPUs (torch's rule).
        verbose (bool): Print the compiler commands. Defaults to False.

    Returns:
        ModuleType: The extension, with the functions in ``KERNEL_NAMES``.

    Raises:
        KernelBuildError: Without a CUDA torch, a CUDA compiler or mmcv's
            sources, or when compiling fails (the message names the folder
            with the build log).
    """
    csrc = mmcv_csrc_dir()
    cuda_home = _checked_cuda_home()
    build_dir = Path(build_dir or default_kernel_dir())
    build_dir.mkdir(parents=True, exist_ok=True)
    binding = build_dir / 'binding.cpp'
    # Rewritten only when it changed: torch rebuilds on a newer source.
    if not binding.is_file() or binding.read_text() != BINDING_SOURCE:
        binding.write_text(BINDING_SOURCE)
    from torch.utils import cpp_extension
    saved_arch_list = os.environ.get('TORCH_CUDA_ARCH_LIST')
    if arch_list:
        os.environ['TORCH_CUDA_ARCH_LIST'] = ';'.join(arch_list)
    try:
        return cpp_extension.load(
            name=EXTENSION_NAME,
            sources=[str(binding), str(csrc / MMCV_SOURCES[0])],
            extra_include_paths=_include_dirs(csrc, cuda_home),
            extra_cflags=['-O3'],
            extra_cuda_cflags=['-O3'],
            build_directory=str(build_dir),
            verbose=verbose)
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        raise KernelBuildError(
            f'Building the deformable-attention kernel in {build_dir} '
            f'failed: {error}') from error
    finally:
        if arch_list:
            if saved_arch_list is None:
                del os.environ['TORCH_CUDA_ARCH_LIST']
            else:
                os.environ['TORCH_CUDA_ARCH_LIST'] = saved_arch_list


def load_built_ms_deform_attn_kernel(
        build_dir: Optional[Path] = None) -> Optional[ModuleType]:
    """Import a kernel built before, without compiling anything.

    Args:
        build_dir (Path, optional): Defaults to :func:`default_kernel_dir`.

    Returns:
        ModuleType | None: The extension, or None when none was built there
        or it does not import (a warning then says why).
    """
    library = Path(build_dir or default_kernel_dir()) / f'{EXTENSION_NAME}.so'
    if not library.is_file():
        return None
    import torch  # noqa: F401  (the extension links against torch's libs)
    spec = importlib.util.spec_from_file_location(EXTENSION_NAME, library)
    try:
        # An extension module is loaded (dlopen) when it is created.
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except ImportError as error:
        warnings.warn(f'The deformable-attention kernel {library} does not '
                      f'import ({error}); rebuild it with '
                      'tools/misc/build_kernels.py.')
        return None
    return module


def ensure_ms_deform_attn_kernel(build: bool = False,
                                 verbose: bool = False) -> bool:
    """Make ``mmcv._ext`` answer the deformable-attention kernels.

    Full mmcv has them already. Otherwise a kernel built before is loaded,
    and, if there is none and ``build`` is set, one is built.

    Args:
        build (bool): Compile the kernel when none was built before.
            Defaults to False.
        verbose (bool): Print the compiler commands. Defaults to False.

    Returns:
        bool: Whether the kernels are usable now.

    Raises:
        KernelBuildError: When ``build`` is set and building fails.
    """
    global _SEARCHED_WITHOUT_RESULT
    if all(has_mmcv_kernel(name) for name in KERNEL_NAMES):
        return True
    if _SEARCHED_WITHOUT_RESULT and not build:
        return False
    with _LOCK:
        module = load_built_ms_deform_attn_kernel()
        if module is None and build:
            module = build_ms_deform_attn_kernel(verbose=verbose)
        if module is None:
            _SEARCHED_WITHOUT_RESULT = True
            return False
        provide_mmcv_kernels(
            {name: getattr(module, name)
             for name in KERNEL_NAMES})
        _SEARCHED_WITHOUT_RESULT = False
    return True


def build_requested_by_environment() -> bool:
    """Whether ``MMAVS_BUILD_KERNELS`` asks for building missing kernels."""
    return os.environ.get(BUILD_ENV, '').strip().lower() in ('1', 'true',
                                                              'yes')
