# Copyright (c) mmavs contributors. All rights reserved.
"""The AVSBench baseline (TPAVI) configs and the mixing configs: each builds
shrunk and runs loss + predict on CPU; the mixing configs train a few
iterations on synthetic data through the Runner."""
import glob
import os.path as osp
import uuid

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmseg.registry import MODELS

from mmavs.datasets.synthetic import make_synthetic_avsbench
from mmavs.testing import (demo_av_batch, get_config, get_model_cfg,
                           get_tiny_train_config, shrink_model_cfg)
from mmavs.testing._utils import REPO_ROOT

CONFIG_ROOT = osp.join(REPO_ROOT, 'configs')
BASELINE = [
    f'avsbench/avsbench-tpavi_{backbone}_1xb4-{schedule}-224x224.py'
    for backbone in ('r50', 'pvtv2-b5')
    for schedule in ('15e_avsbench-s4', '30e_avsbench-ms3',
                     '60e_avsbench-avss')
]
MIXING = [
    'mixing/tpavi-uperhead_r50_1xb4-15e_avsbench-s4-224x224.py',
    'mixing/tpavi-segformerhead_mit-b0_1xb4-15e_avsbench-s4-224x224.py',
]
# Baseline configs with another audio backbone (same released settings).
AUDIO_SWAPS = [
    'avsbench/avsbench-tpavi_r50-lightaudio_1xb4-30e_avsbench-ms3-224x224.py'
]


def _task(path):
    return 'avss' if 'avss' in path else 'ms3' if 'ms3' in path else 's4'


def test_all_configs_are_covered():
    shipped = sorted(
        osp.relpath(p, CONFIG_ROOT)
        for pattern in ('avsbench/*.py', 'mixing/*.py')
        for p in glob.glob(osp.join(CONFIG_ROOT, pattern)))
    assert shipped == sorted(BASELINE + MIXING + AUDIO_SWAPS)


@pytest.mark.parametrize('path', BASELINE + MIXING + AUDIO_SWAPS)
def test_released_settings(path):
    cfg = get_config(path)
    task = _task(path)
    assert cfg.optim_wrapper.optimizer == dict(type='Adam', lr=1e-4)
    assert cfg.param_scheduler == []
    assert cfg.train_dataloader.batch_size == 4
    assert cfg.train_cfg.max_epochs == dict(s4=15, ms3=30, avss=60)[task]
    head = cfg.model.decode_head
    loss = head.loss_decode
    assert loss.type == 'CrossEntropyLoss'
    assert loss.use_sigmoid == (task != 'avss')
    assert head.out_channels == (71 if task == 'avss' else 1)
    if path in MIXING:
        assert cfg.model.neck.type == 'TPAVI'
        return
    assert cfg.model.get('neck') is None
    assert head.type == 'AVSBenchHead' and head.feat_channels == 256
    assert head.fusion.type == 'TPAVI'
    assert tuple(head.fusion.stages) == (0, 1, 2, 3)
    match = head.get('loss_av_match')
    if task == 's4':
        assert match is None
    else:
        assert match.type == 'AVMatchingLoss' and match.loss_weight == 0.5
        assert match.reduction == ('sum' if task == 'ms3' else 'mean')
    assert head.fusion.get('window_frames') == (5 if task == 'avss' else None)


@pytest.mark.parametrize('path', BASELINE + MIXING + AUDIO_SWAPS)
def test_builds_shrunk_and_runs_loss_and_predict(path):
    task = _task(path)
    torch.manual_seed(0)
    model = MODELS.build(shrink_model_cfg(get_model_cfg(path)))
    model.init_weights()
    assert not model.processes_frames_independently  # TPAVI is temporal
    num_classes = 71 if task == 'avss' else 2
    batch, frames = (1, 10) if task == 'avss' else (2, 3)
    labelled = [0] if task == 's4' else None
    inputs, samples = demo_av_batch(
        batch_size=batch, num_frames=frames, num_classes=num_classes,
        # The light encoder takes log-mel examples only.
        audio='log_mel' if path in AUDIO_SWAPS else 'features',
        labelled=labelled)
    model.train()
    losses = model(inputs, samples, mode='loss')
    expected = {'decode.acc_seg',
                'decode.loss_ce' if task == 'avss' else 'decode.loss_bce'}
    if path not in MIXING and task != 's4':
        expected.add('decode.loss_av_match')
    assert set(losses) == expected
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    # find_unused_parameters=False in DDP: every trainable parameter must
    # be in the graph.
    missing = [n for n, p in model.named_parameters()
               if p.requires_grad and p.grad is None]
    assert missing == []
    model.eval()
    with torch.no_grad():
        results = model(inputs, samples, mode='predict')
    assert len(results) == batch * frames
    assert results[0].pred_sem_seg.shape == (64, 64)
    logits = results[0].seg_logits.data
    assert logits.shape[0] == (num_classes if task == 'avss' else 1)
    if task != 'avss':
        assert 0 <= logits.min() and logits.max() <= 1


class CaptureMetrics(Hook):
    """Keep the validation metrics of the run."""

    def __init__(self):
        self.metrics = None

    def after_val_epoch(self, runner, metrics=None):
        self.metrics = metrics


@pytest.fixture(scope='module')
def synthetic_s4(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic_s4')
    return make_synthetic_avsbench(
        str(root), tasks='s4', num_clips=dict(train=8, val=4, test=4),
        image_size=64)['s4']


@pytest.mark.parametrize('path', MIXING)
def test_mixing_config_trains_on_synthetic_data(path, synthetic_s4, tmp_path):
    # One clip (5 frames) per batch keeps the VGGish work small.
    cfg = get_tiny_train_config(path, synthetic_s4, str(tmp_path),
                                batch_size=1)
    cfg.model = shrink_model_cfg(get_model_cfg(path))
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=3,
                         val_interval=3)
    cfg.log_processor = dict(by_epoch=False)
    # No checkpoint: it would hold the 72M-parameter VGGish.
    cfg.default_hooks.checkpoint = None
    cfg.experiment_name = f'mixing_{uuid.uuid4().hex[:8]}'
    runner = Runner.from_cfg(cfg)
    capture = CaptureMetrics()
    runner.register_hook(capture)
    runner._init_model_weights()
    neck_before = {k: v.clone() for k, v in runner.model.neck.state_dict()
                   .items()}
    runner.train()
    assert 0.0 <= capture.metrics['mIoU'] <= 100.0
    # The TPAVI blocks leave their zero init: the audio path trains.
    neck_after = runner.model.neck.state_dict()
    changed = [k for k in neck_before
               if not torch.equal(neck_before[k], neck_after[k])]
    assert any(k.endswith('out_norm.weight') for k in changed)
    assert any('audio_proj' in k for k in changed)
