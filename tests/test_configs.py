# Copyright (c) mmavs contributors. All rights reserved.
"""Every shipped config builds (shrunk) and runs loss and predict."""
import glob
import os.path as osp

import pytest
import torch
from mmseg.registry import MODELS

from mmavs.testing import demo_av_batch, get_config, shrink_model_cfg
from mmavs.testing._utils import REPO_ROOT

CONFIG_ROOT = osp.join(REPO_ROOT, 'configs')
CONFIGS = sorted(
    osp.relpath(path, CONFIG_ROOT)
    for path in glob.glob(osp.join(CONFIG_ROOT, '**', '*.py'), recursive=True)
    if '_base_' not in path)


def test_configs_are_found():
    assert len(CONFIGS) >= 20


@pytest.mark.parametrize('config', CONFIGS)
def test_config_builds_shrunk_and_runs_loss_and_predict(config):
    cfg = get_config(config)
    assert cfg.default_scope == 'mmseg'
    assert 'mmavs' in cfg.custom_imports['imports']
    model = MODELS.build(shrink_model_cfg(cfg.model))
    model.init_weights()
    head = model.decode_head
    num_classes = 2 if head.out_channels == 1 else head.num_classes
    torch.manual_seed(0)
    # Audio backbones that need a network's input get log-mel examples;
    # VGGish passes precomputed features through (faster).
    log_mel_only = cfg.model.audio_backbone.type == 'LightAudioEncoder'
    inputs, samples = demo_av_batch(batch_size=1, num_frames=2,
                                    num_classes=num_classes,
                                    audio='log_mel' if log_mel_only else
                                    'features')
    model.train()
    losses = model(inputs, samples, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    model.eval()
    with torch.no_grad():
        results = model(inputs, samples, mode='predict')
    assert len(results) == 2
    assert results[0].pred_sem_seg.shape == (64, 64)
    # The dataloaders point at the sub-task the name says.
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:
        dataset = dataset.dataset
    task = {'s4': 'S4', 'ms3': 'MS3', 'avss': 'Semantic'}
    for key, name in task.items():
        if f'avsbench-{key}' in config or f'synthetic-{key}' in config:
            assert name in dataset.type


@pytest.mark.parametrize('config', CONFIGS)
def test_config_built_without_random_init_loads_to_the_same_model(config):
    """init_model builds without drawing random weights when a checkpoint
    fills them (skip_weight_init): nothing a constructor computes may be
    lost. The same weights give the same logits either way."""
    from mmavs.apis.model_init import skip_weight_init
    from mmavs.utils.checkpoint import load_weights
    cfg = get_config(config)
    model_cfg = shrink_model_cfg(cfg.model)
    torch.manual_seed(0)
    model = MODELS.build(model_cfg)
    model.init_weights()
    with skip_weight_init():
        rebuilt = MODELS.build(model_cfg)
    load_weights(rebuilt, dict(state_dict=model.state_dict()), config)
    head = model.decode_head
    num_classes = 2 if head.out_channels == 1 else head.num_classes
    log_mel_only = cfg.model.audio_backbone.type == 'LightAudioEncoder'
    inputs, samples = demo_av_batch(batch_size=1, num_frames=2,
                                    num_classes=num_classes,
                                    audio='log_mel' if log_mel_only else
                                    'features')
    model.eval()
    rebuilt.eval()
    with torch.no_grad():
        expected = model(inputs, samples, mode='tensor')
        got = rebuilt(inputs, samples, mode='tensor')
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
    # The initialisers are back.
    weight = torch.nn.Linear(4, 4).weight
    assert weight.abs().sum() > 0
