# Copyright (c) mmavs contributors. All rights reserved.
import io
import subprocess
import sys

import pytest
import torch

import mmavs
from mmavs.ops import MissingCompiledOpError, has_compiled_mmcv_ops
from mmavs.ops import install_mmcv_ext_stand_in

needs_stand_in = pytest.mark.skipif(
    has_compiled_mmcv_ops(), reason='full mmcv with compiled ops installed')


def test_openmmlab_model_zoos_import():
    import mmdet.models  # noqa: F401
    import mmpretrain.models  # noqa: F401
    import mmseg.models  # noqa: F401
    from mmdet.registry import MODELS as DET_MODELS
    from mmpretrain.registry import MODELS as PRETRAIN_MODELS
    assert DET_MODELS.get('PyramidVisionTransformerV2') is not None
    assert PRETRAIN_MODELS.get('ImageClassifier') is not None


def test_fresh_interpreter_imports_the_stack_through_mmavs():
    code = ('import mmavs, mmseg.models, mmdet.models, mmpretrain.models, '
            'sys; print(sys.modules["mmcv._ext"].__spec__.name)')
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().endswith('mmcv._ext')


@needs_stand_in
def test_missing_kernel_raises_a_clear_error():
    from mmcv.ops import nms, roi_align
    with pytest.raises(MissingCompiledOpError, match='"nms".*full mmcv'):
        nms(torch.rand(3, 4), torch.rand(3), 0.5)
    with pytest.raises(MissingCompiledOpError, match='roi_align'):
        roi_align(torch.rand(1, 1, 8, 8), torch.tensor([[0., 0, 0, 4, 4]]),
                  (2, 2))


@needs_stand_in
def test_stand_in_has_a_spec_and_is_installed_once():
    ext = sys.modules['mmcv._ext']
    assert ext.__spec__ is not None and ext.__spec__.name == 'mmcv._ext'
    assert install_mmcv_ext_stand_in() is True
    assert sys.modules['mmcv._ext'] is ext
    assert not hasattr(ext, '__path__')  # dunder lookups are not stubbed


def test_pure_pytorch_deformable_attention_runs_without_kernels():
    from mmcv.ops import MultiScaleDeformableAttention
    attn = MultiScaleDeformableAttention(embed_dims=8, num_heads=2,
                                         num_levels=1, num_points=1,
                                         batch_first=True)
    out = attn(torch.randn(1, 4, 8), value=torch.randn(1, 4, 8),
               reference_points=torch.rand(1, 4, 1, 2),
               spatial_shapes=torch.tensor([[2, 2]]),
               level_start_index=torch.tensor([0]))
    assert out.shape == (1, 4, 8)


def test_runner_checkpoints_load_with_weights_only():
    from mmengine.logging import HistoryBuffer
    import numpy as np
    buffer = HistoryBuffer()
    buffer.update(np.float64(0.5))
    checkpoint = dict(message_hub=dict(log_scalars={'loss': buffer}),
                      meta=dict(seed=np.int64(3), dtype=np.dtype('float32')))
    stream = io.BytesIO()
    torch.save(checkpoint, stream)
    stream.seek(0)
    loaded = torch.load(stream, weights_only=True)
    assert loaded['message_hub']['log_scalars']['loss'].current() == 0.5
    assert loaded['meta']['seed'] == 3


def test_version_check_names_package_and_range():
    with pytest.raises(ImportError, match=r'mmcv==2\.2\.0 .*<2\.2\.0'):
        mmavs.check_versions(dict(mmengine='0.10.7', mmcv='2.2.0',
                                  mmseg='1.2.2', mmdet='3.3.0'))
    with pytest.raises(ImportError, match='mmdet is not installed'):
        mmavs.check_versions(dict(mmengine='0.10.7', mmcv='2.1.0',
                                  mmseg='1.2.2'))
    # pip does not install mmcv with mmavs: the message says how.
    with pytest.raises(ImportError, match=r'mmcv is not installed; install '
                       r'`pip install "mmcv-lite>=2\.0\.0,<2\.2\.0"` on '
                       r'CPU-only machines, or full mmcv .*`mim install'):
        mmavs.check_versions(dict(mmengine='0.10.7', mmseg='1.2.2',
                                  mmdet='3.3.0'))
    mmavs.check_versions(dict(mmengine='0.10.7', mmcv='2.1.0',
                              mmseg='1.2.2', mmdet='3.3.0'))


def test_every_component_is_registered_in_mmseg_registries():
    from mmseg.registry import (DATASETS, HOOKS, METRICS, MODELS,
                                TRANSFORMS, VISUALIZERS)
    expected = {
        MODELS: ['AVSegFormer', 'AVEncoderDecoder', 'AVSegFormerHead',
                 'VGGish', 'AVSDataPreProcessor', 'AVSDiceLoss',
                 'ChannelAttentionMixer', 'CrossAttentionMixer',
                 'RepeatAudioQuery', 'AttentionQueryGenerator',
                 'QueryMixedReformer', 'AttentionOnlyReformer'],
        DATASETS: ['AVSBenchS4Dataset', 'AVSBenchMS3Dataset',
                   'AVSBenchSemanticDataset', 'AudioSwapDataset'],
        TRANSFORMS: ['LoadAVSFrames', 'LoadAVSAnnotations', 'LoadAVSAudio',
                     'ClipTransform', 'PackAVSInputs'],
        METRICS: ['AVSBinaryMetric', 'AVSSemanticMetric'],
        HOOKS: ['FreezeModuleHook', 'AVSVisualizationHook',
                'RandomStateHook'],
        VISUALIZERS: ['AVSLocalVisualizer'],
    }
    for registry, names in expected.items():
        for name in names:
            assert registry.get(name) is not None, f'{name} not in {registry}'
