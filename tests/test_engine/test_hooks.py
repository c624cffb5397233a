# Copyright (c) mmavs contributors. All rights reserved.
import random
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn as nn

from mmavs.engine.hooks import FreezeModuleHook, RandomStateHook


def fake_runner(epoch=0, iteration=0):
    model = nn.Module()
    model.backbone = nn.Linear(2, 2)
    model.decode_head = nn.Linear(2, 2)
    return SimpleNamespace(model=model, epoch=epoch, iter=iteration)


def test_freeze_hook_freezes_then_unfreezes_by_epoch():
    hook = FreezeModuleHook(freeze_epochs=2)
    runner = fake_runner()
    for epoch, frozen in [(0, True), (1, True), (2, False), (3, False)]:
        runner.epoch = epoch
        hook.before_train_epoch(runner)
        assert all(p.requires_grad != frozen
                   for p in runner.model.backbone.parameters())
        assert all(p.requires_grad
                   for p in runner.model.decode_head.parameters())


def test_unfreezing_keeps_the_modules_own_frozen_parameters():
    runner = fake_runner()
    runner.model.backbone.bias.requires_grad_(False)  # e.g. frozen_stages
    hook = FreezeModuleHook(freeze_epochs=1)
    hook.before_train_epoch(runner)
    assert not runner.model.backbone.weight.requires_grad
    runner.epoch = 1
    hook.before_train_epoch(runner)
    assert runner.model.backbone.weight.requires_grad
    assert not runner.model.backbone.bias.requires_grad


def test_freeze_hook_on_resume_lands_in_the_right_state():
    runner = fake_runner(epoch=5)
    FreezeModuleHook(freeze_epochs=10).before_train_epoch(runner)
    assert not any(p.requires_grad for p in runner.model.backbone.parameters())


def test_freeze_hook_by_iterations_and_nested_module_name():
    runner = fake_runner()
    runner.model.decode_head.inner = nn.Linear(1, 1)
    hook = FreezeModuleHook(module_name='decode_head.inner', freeze_iters=3)
    runner.iter = 2
    hook.before_train_iter(runner, 0)
    assert not runner.model.decode_head.inner.weight.requires_grad
    assert runner.model.decode_head.weight.requires_grad
    runner.iter = 3
    hook.before_train_iter(runner, 0)
    assert runner.model.decode_head.inner.weight.requires_grad


def test_random_state_hook_restores_state_across_epochs_and_resume():
    hook = RandomStateHook()
    runner = fake_runner()
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    hook.after_train_epoch(runner)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    # Validation draws random numbers between epochs...
    random.random(), np.random.rand(), torch.rand(3)
    hook.before_train_epoch(runner)
    assert (random.random(), np.random.rand(),
            torch.rand(1).item()) == expected
    # ...and a resumed run gets the state back from the checkpoint.
    checkpoint = dict(meta=dict())
    hook.before_save_checkpoint(runner, checkpoint)
    fresh = RandomStateHook()
    runner._resume = True
    fresh.after_load_checkpoint(runner, checkpoint)
    torch.manual_seed(123)
    fresh.before_train_epoch(runner)
    assert (random.random(), np.random.rand(),
            torch.rand(1).item()) == expected


def test_random_state_hook_ignores_the_state_when_fine_tuning():
    runner = fake_runner()
    runner._resume = False  # load_from, not resume
    hook = RandomStateHook()
    hook.after_train_epoch(runner)
    checkpoint = dict(meta=dict())
    hook.before_save_checkpoint(runner, checkpoint)
    fresh = RandomStateHook()
    fresh.after_load_checkpoint(runner, checkpoint)
    torch.manual_seed(5)
    expected = torch.rand(1)
    torch.manual_seed(5)
    fresh.before_train_epoch(runner)  # nothing recorded: no restore
    assert torch.equal(torch.rand(1), expected)
