# Copyright (c) mmavs contributors. All rights reserved.
"""Make resumed training continue with the random state it stopped with."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


def get_random_state() -> dict:
    """The states of Python's, numpy's and torch's (CPU and CUDA) RNGs."""
    state = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['torch_cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict) -> None:
    """Restore states produced by :func:`get_random_state`.

    Checkpoints are loaded onto the training device, so the tensors may
    arrive on CUDA: torch takes RNG states as CPU byte tensors. CUDA states
    are restored when the number of devices matches the saving run's.
    """
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'].cpu())
    cuda_states = state.get('torch_cuda')
    if (cuda_states is not None and torch.cuda.is_available()
            and len(cuda_states) == torch.cuda.device_count()):
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda_states])


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Start every training epoch from the random state the previous one
    ended with, and keep that state in checkpoints.

    mmengine seeds the RNGs once, when the runner starts. A run resumed
    from the checkpoint of epoch k therefore draws different dropout masks
    and dataloader seeds than the uninterrupted run did in epoch k+1, and
    ends with different weights. This hook records the RNG state at the end
    of each training epoch (before the checkpoint is written and before
    validation, which also draws random numbers), restores it at the start
    of the next epoch, and stores it in the checkpoint's ``meta``; on
    resume the same state is restored. With deterministic kernels (CPU) a
    resumed run then ends with the same weights as an uninterrupted one.
    """

    # Before CheckpointHook (VERY_LOW) so the state goes into the checkpoint.
    priority = 'LOW'

    def __init__(self):
        self._state: Optional[dict] = None

    def after_train_epoch(self, runner) -> None:
        """Record the state the next epoch starts from."""
        self._state = get_random_state()

    def before_train_epoch(self, runner) -> None:
        """Undo random draws made between epochs (validation)."""
        if self._state is not None:
            set_random_state(self._state)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the recorded state with the checkpoint."""
        if self._state is not None:
            checkpoint.setdefault('meta', {})['random_state'] = self._state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Pick up the state stored by :meth:`before_save_checkpoint` when
        resuming; a plain ``load_from`` (fine-tuning) keeps the configured
        seed."""
        state = checkpoint.get('meta', {}).get('random_state')
        if state is not None and getattr(runner, '_resume', False):
            self._state = state
