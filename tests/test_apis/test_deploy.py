# Copyright (c) mmavs contributors. All rights reserved.
"""ONNX export of every model family, and the exported graph run by
ONNX Runtime and OpenVINO inside the inferencer: the same probabilities
and masks as PyTorch, and clear errors for graphs that do not fit."""
import json
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from mmavs.testing import get_config, shrink_model_cfg
from mmavs.testing._utils import REPO_ROOT
from mmavs.testing.videos import find_test_media

pytest.importorskip('onnx', reason='the [deploy] extra is not installed')
pytest.importorskip('onnxruntime',
                    reason='the [deploy] extra is not installed')

from mmavs.apis.deploy import export_onnx  # noqa: E402
from mmavs.apis.inferencer.backends import OnnxBackend  # noqa: E402

try:
    import openvino  # noqa: F401
    HAS_OPENVINO = True
except ImportError:
    HAS_OPENVINO = False

DEMO = 'avsegformer-tiny_r18-lightaudio_1xb8-8e_synthetic-s4-64x64'
BUNNY = find_test_media('bigbuckbunny.mp4')
#: One config per family: backbones, the TPAVI baseline, AVSS (10 frames,
#: 71 classes), and each audio backbone (VGGish, light, features).
FAMILIES = [
    'avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py',
    'avsegformer/avsegformer_pvtv2-b5_1xb4-30e_avsbench-s4-224x224.py',
    'avsegformer/avsegformer_swin-t_1xb4-30e_avsbench-s4-224x224.py',
    'avsegformer/avsegformer_mit-b0_1xb4-30e_avsbench-s4-224x224.py',
    'avsegformer/avsegformer_convnext-t_1xb4-30e_avsbench-s4-224x224.py',
    'avsbench/avsbench-tpavi_r50_1xb4-15e_avsbench-s4-224x224.py',
    'avsegformer/avsegformer_r50_1xb4-30e_avsbench-avss-224x224.py',
    'avsegformer/avsegformer_r50-lightaudio_1xb4-30e_avsbench-s4-224x224.py',
    'avsegformer/avsegformer_r50-vggishfeat_1xb4-30e_avsbench-s4-224x224.py',
]


def shrunk(config):
    cfg = get_config(config)
    cfg.model = shrink_model_cfg(cfg.model)
    return cfg


def random_checkpoint(cfg, path):
    """A checkpoint of random weights for ``cfg``'s model."""
    from mmavs.apis.model_init import init_model
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = init_model(cfg, None, 'cpu')
    torch.save(dict(state_dict=model.state_dict(), meta={}), str(path))
    return str(path)


@pytest.mark.parametrize('config', FAMILIES)
def test_every_family_exports_and_matches_pytorch(config, tmp_path):
    from mmavs.apis.deploy import DeployableModel, export_mode
    from mmavs.apis.model_init import init_model
    cfg = shrunk(config)
    checkpoint = random_checkpoint(cfg, tmp_path / 'weights.pth')
    out = str(tmp_path / 'out' / 'model.onnx')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        meta = export_onnx(cfg, checkpoint, out, shape=(64, 64), verify=True)
    assert meta['max_abs_diff'] < 1e-4, meta['max_abs_diff']
    # Swin's windows fix the traced batch: one clip at a time, said so.
    fixed = any('cannot take a dynamic batch' in str(w.message)
                for w in caught)
    assert fixed == ('swin' in config)
    assert sorted(os.listdir(tmp_path / 'out')) == [
        'model.onnx', 'model.onnx.json'
    ]
    frames, audio = (spec['shape'] for spec in meta['inputs'])
    num_frames = 10 if 'avss' in config else 5
    batch = 1 if fixed else 'B'
    assert frames == [batch, num_frames, 3, 64, 64]
    assert audio == ([batch, num_frames, 128] if 'vggishfeat' in config
                     else [batch, num_frames, 1, 96, 64])
    channels = 71 if 'avss' in config else 1
    assert meta['outputs'][0]['shape'] == [
        num_frames if fixed else 'B*T', channels, 64, 64
    ]
    with open(out + '.json') as file:
        assert json.load(file) == meta
    # Two clips at once (a dynamic batch, or one at a time), against
    # PyTorch.
    torch.manual_seed(3)
    batch_frames = torch.rand(2, *frames[1:]) * 255
    batch_audio = torch.randn(2, *audio[1:]) - 3
    deployable = DeployableModel(init_model(cfg, checkpoint, 'cpu'),
                                 (64, 64)).eval()
    with export_mode(), torch.no_grad():
        expected = deployable(batch_frames, batch_audio).numpy()
    got = OnnxBackend(out).run(batch_frames.numpy(), batch_audio.numpy())
    assert got.shape == (2 * num_frames, channels, 64, 64)
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    if HAS_OPENVINO:
        vino = OnnxBackend(out, 'openvino').run(batch_frames.numpy(),
                                                batch_audio.numpy())
        np.testing.assert_allclose(vino, expected, atol=1e-4, rtol=0)


@pytest.fixture(scope='module')
def demo_export(tmp_path_factory):
    """The demo model with random weights, its checkpoint and its graph."""
    folder = tmp_path_factory.mktemp('demo_export')
    from mmavs.apis.inferencer.configs import load_config
    checkpoint = random_checkpoint(load_config(DEMO), folder / 'demo.pth')
    out = str(folder / 'demo.onnx')
    export_onnx(DEMO, checkpoint, out)
    return checkpoint, out


@pytest.mark.usefixtures('needs_av')
@pytest.mark.skipif(BUNNY is None, reason='bigbuckbunny.mp4 not here')
@pytest.mark.parametrize('backend', ['onnxruntime', 'openvino'])
def test_the_inferencer_runs_the_graph_like_pytorch(demo_export, backend):
    """Every frame of the real 5.1 video: the same probabilities (1e-4)
    and masks (>= 99.9 % of pixels) as PyTorch, through the same
    decoding, sampling, batching and outputs."""
    if backend == 'openvino' and not HAS_OPENVINO:
        pytest.skip('openvino is not installed')
    checkpoint, graph = demo_export
    from mmavs.apis import AVSInferencer
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        eager = AVSInferencer(DEMO, weights=checkpoint, device='cpu')
        exported = AVSInferencer(weights=graph, backend=backend)
    assert exported.backend == backend and not exported.quick_start
    expected = eager(BUNNY, fps='all', return_datasamples=True)
    got = exported(BUNNY, fps='all', return_datasamples=True)
    assert got['masks'].shape == expected['masks'].shape == (132, 720, 1280)
    assert (got['masks'] == expected['masks']).mean() >= 0.999
    difference = max(
        float((a.seg_logits.data - b.seg_logits.data).abs().max())
        for a, b in zip(got['data_samples'], expected['data_samples']))
    assert difference < 1e-4
    np.testing.assert_array_equal(got['timestamps'], expected['timestamps'])


def test_a_graph_of_another_config_stops_before_the_first_frame(
        demo_export, tmp_path):
    """The demo graph (64x64 frames) with the R50 config (224x224): the
    error names the graph and both sizes."""
    from mmavs.apis import AVSInferencer
    from mmavs.datasets.errors import CheckpointError
    _, graph = demo_export
    with pytest.raises(CheckpointError,
                       match=r'demo.onnx: the graph takes clips of 5 frames '
                       r'of 64x64 .* config makes clips of 5 frames of '
                       r'224x224'):
        AVSInferencer('avsegformer_r50_1xb4-30e_avsbench-s4-224x224',
                      weights=graph)


def test_broken_graphs_and_missing_runtimes_are_named(demo_export, tmp_path,
                                                      monkeypatch):
    import shutil
    from mmavs.apis import AVSInferencer
    from mmavs.datasets.errors import CheckpointError
    _, graph = demo_export
    cut = tmp_path / 'cut.onnx'
    cut.write_bytes(open(graph, 'rb').read()[:5000])
    shutil.copy(graph + '.json', str(cut) + '.json')
    with pytest.raises(CheckpointError,
                       match=r'cut.onnx: onnxruntime cannot load it: it is '
                       r'truncated, corrupt or not an ONNX graph'):
        AVSInferencer(weights=str(cut))
    lonely = tmp_path / 'lonely.onnx'
    shutil.copy(graph, lonely)
    with pytest.raises(CheckpointError, match=r'lonely.onnx: its sidecar '
                       r'.*lonely.onnx.json is missing'):
        AVSInferencer(weights=str(lonely))
    (tmp_path / 'bad.onnx').write_bytes(b'')
    (tmp_path / 'bad.onnx.json').write_text('{"inputs": []}')
    with pytest.raises(CheckpointError, match='bad.onnx.json: not an mmavs '
                       'export sidecar'):
        AVSInferencer(weights=str(tmp_path / 'bad.onnx'))
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(ImportError, match=r'demo.onnx with onnxruntime '
                       r'needs onnxruntime: pip install "mmavs\[deploy\]"'):
        AVSInferencer(weights=graph)
    with pytest.raises(ValueError, match='weights must be a .onnx file'):
        AVSInferencer(DEMO, backend='openvino')


def test_export_tool_and_demo_cli(demo_export, tmp_path, videos, capsys):
    """tools/deployment/pytorch2onnx.py --verify, then mmavs-demo runs
    the graph; a failed export leaves nothing behind."""
    checkpoint, _ = demo_export
    tool = os.path.join(REPO_ROOT, 'tools', 'deployment', 'pytorch2onnx.py')
    out = str(tmp_path / 'cli' / 'model.onnx')
    result = subprocess.run(
        [sys.executable, tool, DEMO, checkpoint, '--out', out, '--verify',
         '--batch-size', '2'], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'frames [2, 5, 3, 64, 64]' in result.stdout
    assert re.search(r'verify: largest \|ONNX Runtime - PyTorch\| = '
                     r'[0-9.e-]+ \(tolerance 0.0001\)', result.stdout)
    from mmavs.apis.cli import main
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        status = main([videos['mp4'], '--checkpoint', out, '--out-dir',
                       str(tmp_path / 'outputs'), '--no-progress'])
    assert status == 0
    assert 'tone.mp4: 3 frames' in capsys.readouterr().out
    assert os.path.isfile(tmp_path / 'outputs' / 'tone' / 'overlay.mp4')
    # An export that fails (a config without a test pipeline) writes
    # nothing.
    failed = subprocess.run(
        [sys.executable, tool, os.path.join(REPO_ROOT, 'configs', '_base_',
                                            'default_runtime.py'),
         '--out', str(tmp_path / 'none' / 'x.onnx')],
        capture_output=True, text=True, timeout=300)
    assert failed.returncode != 0
    assert not os.path.exists(tmp_path / 'none') or not os.listdir(
        tmp_path / 'none')
