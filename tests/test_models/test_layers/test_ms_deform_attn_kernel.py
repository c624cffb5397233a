# Copyright (c) mmavs contributors. All rights reserved.
import sys

import pytest
import torch
from mmcv.ops.multi_scale_deform_attn import MultiScaleDeformableAttnFunction
from torch.utils import cpp_extension

from mmavs.models.layers import ms_deform_attn_kernel as kernel_module
from mmavs.models.layers.ms_deform_attn_kernel import (
    KERNEL_NAMES, KernelBuildError, build_ms_deform_attn_kernel,
    default_kernel_dir, ensure_ms_deform_attn_kernel,
    load_built_ms_deform_attn_kernel, mmcv_csrc_dir)
from mmavs.utils import (has_compiled_mmcv_ops, has_mmcv_kernel,
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
    from mmavs.utils import MissingCompiledOpError
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
    assert not (tmp_path / 'build').exists()


def test_kernel_dir_is_keyed_by_versions_and_can_be_overridden(
        monkeypatch, tmp_path):
    monkeypatch.delenv('MMAVS_KERNEL_DIR', raising=False)
    key = default_kernel_dir().name
    assert key.startswith(f'torch{torch.__version__}'.replace('+', '_'))
    assert 'mmcv2.' in key and '+' not in key
    monkeypatch.setenv('MMAVS_KERNEL_DIR', str(tmp_path))
    assert default_kernel_dir() == tmp_path


def test_nothing_built_means_pure_path_without_compiling(
        monkeypatch, tmp_path):
    monkeypatch.setenv('MMAVS_KERNEL_DIR', str(tmp_path))
    monkeypatch.setattr(kernel_module, '_SEARCHED_WITHOUT_RESULT', False)

    def fail_build(*args, **kwargs):
        raise AssertionError('must not compile when build=False')

    monkeypatch.setattr(kernel_module, 'build_ms_deform_attn_kernel',
                        fail_build)
    if has_compiled_mmcv_ops():
        assert ensure_ms_deform_attn_kernel()
    else:
        assert load_built_ms_deform_attn_kernel() is None
        assert not ensure_ms_deform_attn_kernel()
        assert kernel_module._SEARCHED_WITHOUT_RESULT


def test_broken_build_warns_and_is_ignored(tmp_path):
    (tmp_path / 'mmavs_ms_deform_attn.so').write_bytes(b'not a library')
    with pytest.warns(UserWarning, match='does not import'):
        assert load_built_ms_deform_attn_kernel(tmp_path) is None


def _toolkit_or_skip():
    try:
        kernel_module._checked_cuda_home()
    except KernelBuildError as error:
        pytest.skip(f'cannot build CUDA code here: {error}')


@needs_stand_in
def test_kernel_compiles_with_mmcv_signature(clean_stand_in, monkeypatch):
    """Compiles for real (about a minute on 2 cores, once: the build is
    reused while its sources and versions stay the same)."""
    _toolkit_or_skip()
    monkeypatch.setattr(kernel_module, '_SEARCHED_WITHOUT_RESULT', False)
    arch = None if torch.cuda.is_available() else ['9.0']
    module = build_ms_deform_attn_kernel(arch_list=arch)
    for name in KERNEL_NAMES:
        assert 'im2col_step' in getattr(module, name).__doc__
    assert 'value_level_start_index' in module.ms_deform_attn_forward.__doc__
    assert load_built_ms_deform_attn_kernel() is not None
    assert ensure_ms_deform_attn_kernel()
    assert all(has_mmcv_kernel(name) for name in KERNEL_NAMES)
    # The binding's own device check runs before any CUDA call.
    with pytest.raises(RuntimeError, match='needs CUDA tensors'):
        module.ms_deform_attn_forward(
            torch.zeros(1, 4, 2, 2), torch.tensor([[2, 2]]),
            torch.tensor([0]), torch.zeros(1, 3, 2, 1, 1, 2),
            torch.ones(1, 3, 2, 1, 1), im2col_step=1)
