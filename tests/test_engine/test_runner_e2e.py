# Copyright (c) mmavs contributors. All rights reserved.
"""The Runner trains, validates, tests, checkpoints and resumes mmavs
models on synthetic data in the released layouts."""
import os.path as osp
import uuid

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmavs.testing import get_tiny_train_config

CONFIGS = dict(
    s4='avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py',
    ms3='avsegformer/avsegformer_r50_1xb4-60e_avsbench-ms3-224x224.py',
    avss='avsegformer/avsegformer_r50_1xb4-30e_avsbench-avss-224x224.py')


def tiny_config(task, roots, work_dir, **kwargs):
    cfg = get_tiny_train_config(CONFIGS[task], roots[task], str(work_dir),
                                **kwargs)
    # Runners of one process share named singletons (message hub,
    # visualizer): give each its own name.
    cfg.experiment_name = f'{task}_{uuid.uuid4().hex[:8]}'
    return cfg


def head_and_backbone(runner):
    model = runner.model
    return ({k: v.clone() for k, v in model.decode_head.state_dict().items()},
            {k: v.clone() for k, v in model.backbone.state_dict().items()
             if 'running' not in k and 'num_batches' not in k})


class CaptureValMetrics(Hook):
    """Keep the metrics of every validation epoch of the run."""

    def __init__(self):
        self.metrics = []

    def after_val_epoch(self, runner, metrics=None):
        self.metrics.append(dict(metrics))


BINARY_KEYS = {'mIoU', 'F-score', 'M_J', 'M_F', 'M_J_release_b10',
               'M_F_release_b10'}
SEMANTIC_KEYS = {'mIoU', 'F-score', 'mIoU_noBg', 'F-score_noBg',
                 'mIoU_noBg_release', 'F-score_noBg_release', 'M_J', 'M_F'}


def check_metrics(task, metrics):
    """The keys of the task's metric, percentages, and the values that are
    equal by definition."""
    assert set(metrics) == (SEMANTIC_KEYS if task == 'avss' else BINARY_KEYS)
    assert all(0.0 <= value <= 100.0 for value in metrics.values()), metrics
    # M_J / M_F are the checkpoint keys: the per-frame mIoU / F-score for
    # S4 and MS3 (the default mode), the class means for AVSS.
    assert metrics['M_J'] == metrics['mIoU']
    assert metrics['M_F'] == metrics['F-score']
    if task != 'avss':
        # 2 clips of 5 frames fit one release batch of 10 frames, where
        # the release reduction is the per-frame one.
        assert metrics['M_J_release_b10'] == pytest.approx(metrics['M_J'])
        assert metrics['M_F_release_b10'] == pytest.approx(metrics['M_F'])


@pytest.mark.parametrize('task', ['s4', 'ms3', 'avss'])
def test_train_validate_test(task, synthetic_roots, tmp_path):
    cfg = tiny_config(task, synthetic_roots, tmp_path)
    runner = Runner.from_cfg(cfg)
    capture = CaptureValMetrics()
    runner.register_hook(capture)
    runner._init_model_weights()
    head_before, backbone_before = head_and_backbone(runner)
    runner.train()
    head_after, backbone_after = head_and_backbone(runner)
    assert osp.isfile(osp.join(tmp_path, 'epoch_1.pth'))
    # One epoch, validated once (val_interval=1).
    assert len(capture.metrics) == 1
    check_metrics(task, capture.metrics[0])
    metrics = runner.test()
    check_metrics(task, metrics)
    # The head learns; the S4/MS3 backbones are frozen by FreezeModuleHook
    # for their first epochs (5 and 10), the AVSS one is not.
    assert any(not torch.equal(head_before[k], head_after[k])
               for k in head_before)
    backbone_changed = any(not torch.equal(backbone_before[k],
                                           backbone_after[k])
                           for k in backbone_before)
    assert backbone_changed == (task == 'avss')


class StopAt(Hook):
    """Raise in the middle of an epoch, as a killed run would stop."""

    def __init__(self, epoch, iteration):
        self.epoch, self.iteration = epoch, iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.epoch == self.epoch and batch_idx == self.iteration:
            raise KeyboardInterrupt('simulated kill')


def test_resume_after_kill_matches_uninterrupted_run(synthetic_roots,
                                                     tmp_path):
    def config(work_dir):
        cfg = tiny_config('s4', synthetic_roots, work_dir, max_epochs=2,
                          batch_size=1)
        # Train everything (no frozen epochs) with dropout on, so the
        # random state matters.
        cfg.custom_hooks = []
        return cfg

    uninterrupted = Runner.from_cfg(config(tmp_path / 'a'))
    uninterrupted.train()
    expected = uninterrupted.model.state_dict()
    expected_metrics = uninterrupted.test()

    killed = Runner.from_cfg(config(tmp_path / 'b'))
    killed.register_hook(StopAt(epoch=1, iteration=1))
    with pytest.raises(KeyboardInterrupt):
        killed.train()
    # What was written before the kill is intact and loadable.
    last = (tmp_path / 'b' / 'last_checkpoint').read_text().strip()
    assert last.endswith('epoch_1.pth')
    assert 'state_dict' in torch.load(last, map_location='cpu')

    cfg = config(tmp_path / 'b')
    cfg.resume = True
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.epoch == 2
    for key, value in resumed.model.state_dict().items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=1e-6,
                                   msg=f'{key} differs after resume')
    metrics = resumed.test()
    assert metrics['M_J'] == pytest.approx(expected_metrics['M_J'])
