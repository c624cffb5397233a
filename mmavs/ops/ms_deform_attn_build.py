# Copyright (c) mmavs contributors. All rights reserved.
"""mmcv's deformable-attention CUDA kernel, built without the rest of mmcv.

Full mmcv compiles some hundred kernels (tens of minutes, and no prebuilt
wheels for recent torch releases), while AVSegFormer needs two of them. The
mmcv wheels, ``mmcv-lite`` included, ship the CUDA sources, so this module
compiles just ``ms_deform_attn_forward``/``ms_deform_attn_backward`` with
``torch.utils.cpp_extension`` (about a minute on two cores) and hands them
to the stand-in ``mmcv._ext`` (:func:`mmavs.ops.provide_mmcv_kernels`).
mmcv's own ``MultiScaleDeformableAttnFunction`` then runs them unchanged.

Builds land in :func:`kernel_root` (keyed by the torch, CUDA, Python and
mmcv versions and the binding source), one folder per set of GPU
architectures (``arch-8.0-9.0``), so later processes load the build made
for their GPU in milliseconds and never one made for another GPU.
:func:`mmavs.ops.multi_scale_deform_attn` loads a kernel built before
on its own; it builds one when it is forced to use the kernel
(``kernel='compiled'``) or when the environment sets
``MMAVS_BUILD_KERNELS=1``. ``tools/misc/build_kernels.py`` builds it ahead.
"""
import functools
import hashlib
import importlib.util
import os
import re
import subprocess
import sys
import threading
import warnings
from contextlib import nullcontext
from pathlib import Path
from types import ModuleType
from typing import List, Optional, Sequence, Tuple

from .mmcv_ext import has_mmcv_kernel, provide_mmcv_kernels

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
# CUDA library headers that torch's ATen/cuda/CUDAContextLight.h includes.
LIBRARY_HEADERS = ('cusparse.h', 'cublas_v2.h', 'cublasLt.h', 'cusolverDn.h')
# A CUDA architecture: major.minor, an optional arch-specific suffix ('9.0a')
# and an optional '+PTX'.
ARCH_PATTERN = re.compile(r'(\d+)\.(\d+)([a-z]?)(\+PTX)?')

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
# The kernel root this process searched without finding a usable build, so
# that forward passes do not touch the file system again.
_SEARCHED_WITHOUT_RESULT: Optional[Path] = None
# Set when a build that the environment asked for failed (warned once).
_BUILD_FAILED = False


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


def kernel_root() -> Path:
    """The folder holding the builds, one sub-folder per architecture set.

    ``$MMAVS_KERNEL_DIR`` when set, else a folder under ``~/.cache/mmavs``
    named by the versions a compiled extension depends on and by the
    binding source, so an older build is never loaded by mistake.

    Returns:
        Path: The folder (it may not exist yet).
    """
    return _kernel_root(os.environ.get(KERNEL_DIR_ENV))


@functools.lru_cache(maxsize=None)
def _kernel_root(override: Optional[str]) -> Path:
    # Cached: forward passes ask for it while looking for a build.
    if override:
        return Path(override).expanduser()
    import mmcv
    import torch
    binding_hash = hashlib.sha256(BINDING_SOURCE.encode()).hexdigest()[:8]
    key = (f'torch{torch.__version__}-cuda{torch.version.cuda}-'
           f'py{sys.version_info.major}{sys.version_info.minor}-'
           f'mmcv{mmcv.__version__}-{binding_hash}').replace('+', '_')
    return Path.home() / '.cache' / 'mmavs' / 'kernels' / key


def resolve_arch_list(arch_list: Optional[Sequence[str]] = None) -> List[str]:
    """The CUDA architectures a build is for.

    Args:
        arch_list (Sequence[str], optional): E.g. ``['8.0', '9.0+PTX']``.
            Defaults to ``$TORCH_CUDA_ARCH_LIST``, else the visible GPUs.

    Returns:
        list[str]: Sorted, without duplicates.

    Raises:
        KernelBuildError: When none is given and no GPU is visible.
    """
    if not arch_list:
        from_environment = os.environ.get('TORCH_CUDA_ARCH_LIST', '')
        arch_list = re.split(r'[;\s]+', from_environment.strip())
        arch_list = [arch for arch in arch_list if arch]
    if not arch_list:
        import torch
        if not torch.cuda.is_available():
            raise KernelBuildError(
                'No GPU is visible to pick the CUDA architecture from; name '
                'it (tools/misc/build_kernels.py --arch 9.0, or '
                'TORCH_CUDA_ARCH_LIST).')
        arch_list = [
            '{}.{}'.format(*torch.cuda.get_device_capability(index))
            for index in range(torch.cuda.device_count())
        ]
    for arch in arch_list:
        if not ARCH_PATTERN.fullmatch(arch):
            raise KernelBuildError(
                f'Unknown CUDA architecture {arch!r}; use the form 9.0, '
                '8.6 or 9.0+PTX.')
    return sorted(set(arch_list))


def kernel_dir(arch_list: Optional[Sequence[str]] = None) -> Path:
    """The build folder for a set of architectures.

    Args:
        arch_list (Sequence[str], optional): See :func:`resolve_arch_list`.

    Returns:
        Path: ``kernel_root() / 'arch-<archs joined by ->'``.
    """
    return kernel_root() / ('arch-' + '-'.join(resolve_arch_list(arch_list)))


def _fit(folder: Path, capability: Tuple[int, int]) -> int:
    """How well a build folder's code fits a GPU of ``capability``.

    Returns:
        int: 3 for machine code of exactly that architecture, 2 for machine
        code of an older one of the same major version (which such GPUs
        run), 1 for PTX of an older or equal one (which the driver compiles
        at load time), 0 when the code does not run there.
    """
    if not folder.name.startswith('arch-'):
        return 0
    best = 0
    for arch in folder.name[len('arch-'):].split('-'):
        match = ARCH_PATTERN.fullmatch(arch)
        if match is None:
            continue
        major, minor = int(match.group(1)), int(match.group(2))
        if (major, minor) == capability:
            best = max(best, 3)
        elif (major == capability[0] and minor < capability[1]
              and not match.group(3)):
            # Architecture-specific code ('9.0a') runs on that GPU alone.
            best = max(best, 2)
        elif match.group(4) and (major, minor) <= capability:
            best = max(best, 1)
    return best


def find_kernel_build(capability: Tuple[int, int],
                      root: Optional[Path] = None) -> Optional[Path]:
    """The build folder under ``root`` whose kernel fits a GPU best.

    Args:
        capability (tuple[int, int]): The GPU's compute capability.
        root (Path, optional): Defaults to :func:`kernel_root`.

    Returns:
        Path | None: A folder holding a built library (machine code for the
        GPU preferred over PTX), or None when none runs there.
    """
    root = Path(root or kernel_root())
    if not root.is_dir():
        return None
    fits = [(_fit(folder, capability), folder)
            for folder in sorted(root.iterdir())
            if (folder / f'{EXTENSION_NAME}.so').is_file()]
    best = max((fit for fit, _ in fits), default=0)
    if best == 0:
        return None
    return next(folder for fit, folder in fits if fit == best)


def _is_toolkit(folder: Optional[str]) -> bool:
    return bool(folder) and (Path(folder) / 'bin' / 'nvcc').exists() and (
        Path(folder) / 'include' / 'cuda_runtime.h').is_file()


def _nvcc_version(cuda_home: Path) -> Optional[str]:
    try:
        output = subprocess.run([str(cuda_home / 'bin' / 'nvcc'), '--version'],
                                capture_output=True, text=True,
                                timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'release (\d+\.\d+)', output)
    return match.group(1) if match else None


def _checked_cuda_home() -> Path:
    """The CUDA toolkit that torch's extension builder will use.

    torch takes the folder above the first ``nvcc`` on ``PATH`` when neither
    ``CUDA_HOME`` nor ``CUDA_PATH`` is set; where that ``nvcc`` is a wrapper
    script (say in ``/usr/local/bin``) the folder is no toolkit, and
    ``/usr/local/cuda`` is used instead (for the rest of the process) when
    it is one. The toolkit's CUDA major version must be torch's: a kernel
    linked against another CUDA runtime does not load.
    """
    import torch
    from torch.utils import cpp_extension
    if torch.version.cuda is None:
        raise KernelBuildError(
            f'torch {torch.__version__} is built without CUDA; the '
            'deformable-attention kernel needs a CUDA build of torch.')
    home = cpp_extension.CUDA_HOME
    chosen_by_user = os.environ.get('CUDA_HOME') or os.environ.get(
        'CUDA_PATH')
    if not _is_toolkit(home) and not chosen_by_user and _is_toolkit(
            DEFAULT_CUDA_HOME):
        # torch's builder reads this module attribute when it builds.
        cpp_extension.CUDA_HOME = home = DEFAULT_CUDA_HOME
    if not home or not (Path(home) / 'bin' / 'nvcc').exists():
        raise KernelBuildError(
            'No CUDA compiler found (CUDA_HOME='
            f'{home!r}); install the CUDA toolkit {torch.version.cuda} and '
            'set CUDA_HOME to its root (the folder holding bin/nvcc).')
    if not _is_toolkit(home):
        raise KernelBuildError(
            f'CUDA_HOME={home} has no include/cuda_runtime.h; set CUDA_HOME '
            'to the CUDA toolkit root (e.g. /usr/local/cuda), not to the '
            'folder of an nvcc wrapper.')
    version = _nvcc_version(Path(home))
    if version is not None and version.split('.')[0] != str(
            torch.version.cuda).split('.')[0]:
        raise KernelBuildError(
            f'The CUDA toolkit at {home} is CUDA {version}, torch '
            f'{torch.__version__} is built for CUDA {torch.version.cuda}; '
            'install a toolkit of the same major version and point '
            'CUDA_HOME at it.')
    return Path(home)


def _library_header_dir(cuda_home: Path, build_dir: Path) -> Optional[Path]:
    """A folder with the CUDA library headers the toolkit lacks.

    torch's CUDA headers include cuSPARSE/cuBLAS/cuSOLVER headers. A toolkit
    installed for compiling only may lack them, while torch's own pip
    dependencies (``nvidia-*``) ship them. Only the headers missing from the
    toolkit are linked into a private folder: the pip folders also hold
    runtime headers that must not shadow the toolkit's own.
    """
    toolkit = cuda_home / 'include'
    if all((toolkit / name).is_file() for name in LIBRARY_HEADERS):
        return None
    spec = importlib.util.find_spec('nvidia')
    locations = list(spec.submodule_search_locations or []) if spec else []
    target = build_dir / 'include'
    target.mkdir(exist_ok=True)
    for location in locations:
        for folder in sorted(Path(location).glob('**/include')):
            for header in folder.iterdir():
                link = target / header.name
                if (toolkit / header.name).exists() or link.exists():
                    continue
                try:
                    link.symlink_to(header)
                except FileExistsError:  # another process made it
                    pass
    missing = [name for name in LIBRARY_HEADERS
               if not (toolkit / name).is_file()
               and not (target / name).exists()]
    if missing:
        raise KernelBuildError(
            f'The CUDA toolkit at {cuda_home} lacks {", ".join(missing)} and '
            'no pip package ships them; install the full CUDA toolkit.')
    return target


def _write_if_changed(path: Path, text: str) -> None:
    # Atomic, so that a process compiling it never reads half a file; and
    # only on change, since torch rebuilds on a newer source.
    if path.is_file() and path.read_text() == text:
        return
    temporary = path.with_name(f'{path.name}.{os.getpid()}.tmp')
    temporary.write_text(text)
    os.replace(temporary, path)


def _build_lock(build_dir: Path):
    """torch's lock on a build folder (held while it compiles and links)."""
    try:
        from torch.utils._filelock import FileLock
    except ImportError:  # older torch: no shared lock to take
        return nullcontext()
    return FileLock(str(build_dir / 'lock'))


def build_ms_deform_attn_kernel(build_dir: Optional[Path] = None,
                                arch_list: Optional[Sequence[str]] = None,
                                verbose: bool = False) -> ModuleType:
    """Compile (or reuse) the kernel and import it.

    A build whose sources and flags are unchanged is reused as it is.

    Args:
        build_dir (Path, optional): Build folder. Defaults to
            :func:`kernel_dir` of the architectures.
        arch_list (Sequence[str], optional): CUDA architectures, e.g.
            ``['9.0']``. Defaults to ``$TORCH_CUDA_ARCH_LIST``, else the
            visible GPUs.
        verbose (bool): Print the compiler commands. Defaults to False.

    Returns:
        ModuleType: The extension, with the functions in ``KERNEL_NAMES``.

    Raises:
        KernelBuildError: Without a CUDA torch, a matching CUDA toolkit,
            mmcv's sources or a GPU architecture, or when compiling or
            loading fails (the message names the folder with the build).
    """
    csrc = mmcv_csrc_dir()
    cuda_home = _checked_cuda_home()
    arch_list = resolve_arch_list(arch_list)
    build_dir = Path(build_dir or kernel_dir(arch_list))
    build_dir.mkdir(parents=True, exist_ok=True)
    binding = build_dir / 'binding.cpp'
    _write_if_changed(binding, BINDING_SOURCE)
    include_dirs = [str(csrc / 'common'), str(csrc / 'common' / 'cuda')]
    library_headers = _library_header_dir(cuda_home, build_dir)
    if library_headers is not None:
        include_dirs.append(str(library_headers))
    from torch.utils import cpp_extension
    saved_arch_list = os.environ.get('TORCH_CUDA_ARCH_LIST')
    os.environ['TORCH_CUDA_ARCH_LIST'] = ';'.join(arch_list)
    try:
        return cpp_extension.load(
            name=EXTENSION_NAME,
            sources=[str(binding), str(csrc / MMCV_SOURCES[0])],
            extra_include_paths=include_dirs,
            extra_cflags=['-O3'],
            extra_cuda_cflags=['-O3'],
            build_directory=str(build_dir),
            verbose=verbose)
    except (RuntimeError, OSError, ImportError,
            subprocess.CalledProcessError) as error:
        raise KernelBuildError(
            f'Building the deformable-attention kernel in {build_dir} '
            f'failed: {error}') from error
    finally:
        if saved_arch_list is None:
            del os.environ['TORCH_CUDA_ARCH_LIST']
        else:
            os.environ['TORCH_CUDA_ARCH_LIST'] = saved_arch_list


def load_built_ms_deform_attn_kernel(
        build_dir: Optional[Path] = None) -> Optional[ModuleType]:
    """Import a kernel built before, without compiling anything.

    Args:
        build_dir (Path, optional): The build folder. Defaults to the one
            under :func:`kernel_root` built for the current GPU.

    Returns:
        ModuleType | None: The extension, or None when there is no such
        build (or no GPU to pick one for) or it does not import (a warning
        then says why).
    """
    import torch
    if build_dir is None:
        if not torch.cuda.is_available():
            return None
        build_dir = find_kernel_build(torch.cuda.get_device_capability())
        if build_dir is None:
            return None
    library = Path(build_dir) / f'{EXTENSION_NAME}.so'
    if not library.is_file():
        return None
    spec = importlib.util.spec_from_file_location(EXTENSION_NAME, library)
    try:
        # Not while another process links it; an extension module is
        # loaded (dlopen) when it is created.
        with _build_lock(Path(build_dir)):
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
    except ImportError as error:
        warnings.warn(f'The deformable-attention kernel {library} does not '
                      f'import ({error}); delete {build_dir} and build it '
                      'again with tools/misc/build_kernels.py.')
        return None
    return module


def ensure_ms_deform_attn_kernel(build: bool = False,
                                 verbose: bool = False) -> bool:
    """Make ``mmcv._ext`` answer the deformable-attention kernels.

    Full mmcv has them already. Otherwise the build made for the current GPU
    is loaded, and, if there is none and ``build`` is set, one is built.

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
    root = kernel_root()
    if _SEARCHED_WITHOUT_RESULT == root and not build:
        return False
    with _LOCK:
        module = load_built_ms_deform_attn_kernel()
        if module is None and build:
            module = build_ms_deform_attn_kernel(verbose=verbose)
        if module is None:
            _SEARCHED_WITHOUT_RESULT = root
            return False
        provide_mmcv_kernels(
            {name: getattr(module, name)
             for name in KERNEL_NAMES})
        _SEARCHED_WITHOUT_RESULT = None
    return True


def try_ms_deform_attn_kernel(build: bool = False) -> bool:
    """:func:`ensure_ms_deform_attn_kernel` that falls back instead of
    failing: a failed build is warned about once and not tried again.

    Args:
        build (bool): Compile the kernel when none was built before.

    Returns:
        bool: Whether the kernels are usable now.
    """
    global _BUILD_FAILED
    try:
        return ensure_ms_deform_attn_kernel(build=build and not _BUILD_FAILED)
    except KernelBuildError as error:
        _BUILD_FAILED = True
        warnings.warn(f'{error}\nDeformable attention runs its pure-PyTorch '
                      'path instead (same results, slower).')
        return False


def build_requested_by_environment() -> bool:
    """Whether ``MMAVS_BUILD_KERNELS`` asks for building missing kernels."""
    value = os.environ.get(BUILD_ENV, '').strip().lower()
    return value in ('1', 'true', 'yes', 'on', 'y')
