# Copyright (c) mmavs contributors. All rights reserved.
import pytest
import torch
from mmengine.config import Config

from mmavs.utils.runtime import enable_amp, setup_cpu_distributed


def config():
    return Config(dict(optim_wrapper=dict(
        type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3))))


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU machine')
def test_amp_on_cpu_fails_with_a_clear_message():
    with pytest.raises(RuntimeError, match='--amp needs a CUDA GPU'):
        enable_amp(config())


def test_amp_switches_the_optimizer_wrapper(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    cfg = config()
    enable_amp(cfg)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    bf16 = config()
    bf16.optim_wrapper.dtype = 'bfloat16'
    enable_amp(bf16)
    assert 'loss_scale' not in bf16.optim_wrapper  # no scaling for bf16


def test_cpu_distributed_setup_is_a_no_op_without_a_launcher():
    cfg = config()
    assert setup_cpu_distributed(cfg, 'none') is False
    assert 'model_wrapper_cfg' not in cfg


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a CPU machine')
def test_slurm_without_cuda_is_refused():
    with pytest.raises(RuntimeError, match='dist_train.sh'):
        setup_cpu_distributed(config(), 'slurm')
