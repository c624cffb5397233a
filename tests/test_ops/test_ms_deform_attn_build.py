# Copyright (c) mmavs contributors. All rights reserved.
import sys

import pytest
import torch
from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttnFunction
from torch.utils import cpp_extension

from mmavs.ops import ms_deform_attn_build as kernel_module
from mmavs.ops.ms_deform_attn_build import (
    KERNEL_NAMES, KernelBuildError, build_ms_deform_attn_kernel,
    ensure_ms_deform_attn_kernel, find_kernel_build, kernel_dir, kernel_root,
    load_built_ms_deform_attn_kernel, mmcv_csrc_dir, resolve_arch_list,
    try_ms_deform_attn_kernel)
from mmavs.ops import (has_compiled_mmcv_ops, has_mmcv_kernel,
                       provide_mmcv_kernels)

needs_stand_in = pytest.mark.skipif(
    has_compiled_mmcv_ops(), reason='full mmcv has its own kernels')


@pytest.fixture
def clean_stand_in():
    """Undo kernels a test hands to the stand-in ``mmcv._ext``."""
    stand_in = sys.modules['mmcv._ext']
    provided = set(stand_in.provided_kernels)
    yield stand_in
    for name in stand_in.provided_kernels - provided:
        delattr(stand_in, name)
    stand_in.provided_kernels.intersection_update(provided)


@needs_stand_in
def test_provided_kernel_is_what_mmcv_function_calls(clean_stand_in):
    calls = []

    def fake_forward(value, value_spatial_shapes, value_level_start_index,
                     sampling_locations, attention_weights, im2col_step):
        calls.append(im2col_step)
        return torch.full((1, 3, 4), 7.0)

    assert not has_mmcv_kernel('ms_deform_attn_forward')
    provide_mmcv_kernels({'ms_deform_attn_forward': fake_forward})
    assert has_mmcv_kernel('ms_deform_attn_forward')
    assert not has_mmcv_kernel('ms_deform_attn_backward')
    output = MultiScaleDeformableAttnFunction.apply(
        torch.zeros(1, 4, 2, 2), torch.tensor([[2, 2]]), torch.tensor([0]),
        torch.zeros(1, 3, 2, 1, 1, 2), torch.ones(1, 3, 2, 1, 1), 1)
    assert calls == [1]
    assert torch.equal(output, torch.full((1, 3, 4), 7.0))


@needs_stand_in
def test_unprovided_kernel_still_raises_clearly(clean_stand_in):
    from mmavs.ops import MissingCompiledOpError
    with pytest.raises(MissingCompiledOpError, match='nms'):
        clean_stand_in.nms(None)


def test_mmcv_ships_the_sources_the_build_needs():
    csrc = mmcv_csrc_dir()
    assert (csrc / 'pytorch/cuda/ms_deform_attn_cuda.cu').is_file()


def test_missing_source_is_named(monkeypatch):
    monkeypatch.setattr(kernel_module, 'MMCV_SOURCES',
                        ('pytorch/cuda/ms_deform_attn_cuda.cu',
                         'common/cuda/no_such_header.cuh'))
    with pytest.raises(KernelBuildError, match='no_such_header.cuh'):
        mmcv_csrc_dir()


@pytest.mark.skipif(torch.version.cuda is None, reason='CPU-only torch')
def test_toolkit_problems_are_named(monkeypatch, tmp_path):
    monkeypatch.setattr(kernel_module, 'DEFAULT_CUDA_HOME',
                        str(tmp_path / 'absent'))
    monkeypatch.setattr(cpp_extension, 'CUDA_HOME', None)
    with pytest.raises(KernelBuildError, match='No CUDA compiler'):
        build_ms_deform_attn_kernel(tmp_path / 'build')
    (tmp_path / 'bin').mkdir()
    (tmp_path / 'bin' / 'nvcc').write_text('#!/bin/sh\n')
    monkeypatch.setattr(cpp_extension, 'CUDA_HOME', str(tmp_path))
    with pytest.raises(KernelBuildError, match='cuda_runtime.h'):
        build_ms_deform_attn_kernel(tmp_path / 'build')
    # A toolkit of another CUDA major version than torch's.
    (tmp_path / 'include').mkdir()
    (tmp_path / 'include' / 'cuda_runtime.h').write_text('')
    other_major = int(torch.version.cuda.split('.')[0]) - 1
    (tmp_path / 'bin' / 'nvcc').write_text(
        f'#!/bin/sh\necho "Cuda compilation tools, release {other_major}.4,'
        f' V{other_major}.4.99"\n')
    (tmp_path / 'bin' / 'nvcc').chmod(0o755)
    with pytest.raises(KernelBuildError,
                       match=f'is CUDA {other_major}.4, torch'):
        build_ms_deform_attn_kernel(tmp_path / 'build')
    assert not (tmp_path / 'build').exists()


def test_kernel_root_is_keyed_by_versions_and_can_be_overridden(
        monkeypatch, tmp_path):
    monkeypatch.delenv('MMAVS_KERNEL_DIR', raising=False)
    key = kernel_root().name
    assert key.startswith(f'torch{torch.__version__}'.replace('+', '_'))
    assert 'mmcv2.' in key and '+' not in key
    monkeypatch.setenv('MMAVS_KERNEL_DIR', str(tmp_path))
    assert kernel_root() == tmp_path
    assert kernel_dir(['9.0', '8.0']) == tmp_path / 'arch-8.0-9.0'


def test_arch_list_comes_from_argument_or_environment(monkeypatch):
    monkeypatch.setenv('TORCH_CUDA_ARCH_LIST', '8.6;9.0+PTX')
    assert resolve_arch_list() == ['8.6', '9.0+PTX']
    assert resolve_arch_list(['9.0', '9.0']) == ['9.0']
    with pytest.raises(KernelBuildError, match='sm_90'):
        resolve_arch_list(['sm_90'])
    monkeypatch.delenv('TORCH_CUDA_ARCH_LIST')
    if not torch.cuda.is_available():
        with pytest.raises(KernelBuildError, match='No GPU is visible'):
            resolve_arch_list()


def test_a_build_is_used_only_on_gpus_it_runs_on(tmp_path):
    for name in ('arch-8.0', 'arch-7.0+PTX-7.5', 'arch-9.0a', 'arch-9.0'):
        (tmp_path / name).mkdir()
        (tmp_path / name / 'mmavs_ms_deform_attn.so').write_bytes(b'')
    (tmp_path / 'arch-8.9').mkdir()  # a build that never finished

    def pick(capability):
        found = find_kernel_build(capability, tmp_path)
        return None if found is None else found.name

    # Machine code for the GPU first, then same-major machine code, then PTX.
    assert pick((9, 0)) == 'arch-9.0'
    assert pick((9, 2)) == 'arch-9.0'
    assert pick((8, 0)) == 'arch-8.0'
    assert pick((8, 6)) == 'arch-8.0'
    assert pick((7, 5)) == 'arch-7.0+PTX-7.5'
    assert pick((12, 0)) == 'arch-7.0+PTX-7.5'
    assert pick((6, 1)) is None
    # '9.0a' code runs on 9.0 GPUs only.
    for name in ('arch-7.0+PTX-7.5', 'arch-9.0'):
        (tmp_path / name / 'mmavs_ms_deform_attn.so').unlink()
    assert pick((9, 0)) == 'arch-9.0a'
    assert pick((9, 2)) is None
    assert find_kernel_build((9, 0), tmp_path / 'absent') is None


def test_nothing_built_means_pure_path_without_compiling(
        monkeypatch, tmp_path):
    monkeypatch.setenv('MMAVS_KERNEL_DIR', str(tmp_path))
    monkeypatch.setattr(kernel_module, '_SEARCHED_WITHOUT_RESULT', None)

    def fail_build(*args, **kwargs):
        raise AssertionError('must not compile when build=False')

    monkeypatch.setattr(kernel_module, 'build_ms_deform_attn_kernel',
                        fail_build)
    if has_compiled_mmcv_ops():
        assert ensure_ms_deform_attn_kernel()
    else:
        assert load_built_ms_deform_attn_kernel() is None
        assert not ensure_ms_deform_attn_kernel()
        assert kernel_module._SEARCHED_WITHOUT_RESULT == tmp_path


@needs_stand_in
def test_failed_build_asked_by_environment_falls_back_once(
        monkeypatch, tmp_path):
    monkeypatch.setenv('MMAVS_KERNEL_DIR', str(tmp_path))
    monkeypatch.setattr(kernel_module, '_SEARCHED_WITHOUT_RESULT', None)
    monkeypatch.setattr(kernel_module, '_BUILD_FAILED', False)
    calls = []

    def failing_build(*args, **kwargs):
        calls.append(1)
        raise KernelBuildError('no compiler here')

    monkeypatch.setattr(kernel_module, 'build_ms_deform_attn_kernel',
                        failing_build)
    with pytest.warns(UserWarning, match='(?s)no compiler here.*pure-PyTorch'):
        assert not try_ms_deform_attn_kernel(build=True)
    assert not try_ms_deform_attn_kernel(build=True)
    assert calls == [1]
    with pytest.raises(KernelBuildError, match='no compiler here'):
        ensure_ms_deform_attn_kernel(build=True)


def test_broken_build_warns_and_is_ignored(tmp_path):
    (tmp_path / 'mmavs_ms_deform_attn.so').write_bytes(b'not a library')
    with pytest.warns(UserWarning, match='does not import.*delete'):
        assert load_built_ms_deform_attn_kernel(tmp_path) is None


def _toolkit_or_skip():
    try:
        kernel_module._checked_cuda_home()
    except KernelBuildError as error:
        pytest.skip(f'cannot build CUDA code here: {error}')


@needs_stand_in
def test_kernel_compiles_with_mmcv_signature():
    """Compiles for real (about a minute on 2 cores, once: the build is
    reused while its sources and versions stay the same)."""
    _toolkit_or_skip()
    arch = None if torch.cuda.is_available() else ['9.0']
    module = build_ms_deform_attn_kernel(arch_list=arch)
    for name in KERNEL_NAMES:
        assert 'im2col_step' in getattr(module, name).__doc__
    assert 'value_level_start_index' in module.ms_deform_attn_forward.__doc__
    build_dir = kernel_dir(arch)
    assert load_built_ms_deform_attn_kernel(build_dir) is not None
    # Only the library headers the toolkit lacks are linked in, so that
    # pip's runtime headers never shadow the toolkit's.
    toolkit = kernel_module._checked_cuda_home() / 'include'
    for header in (build_dir / 'include').glob('*'):
        assert not (toolkit / header.name).exists()
    # The binding's own device check runs before any CUDA call.
    with pytest.raises(RuntimeError, match='needs CUDA tensors'):
        module.ms_deform_attn_forward(
            torch.zeros(1, 4, 2, 2), torch.tensor([[2, 2]]),
            torch.tensor([0]), torch.zeros(1, 3, 2, 1, 1, 2),
            torch.ones(1, 3, 2, 1, 1), im2col_step=1)
