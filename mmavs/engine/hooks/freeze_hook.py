# Copyright (c) mmavs contributors. All rights reserved.
"""Freeze a sub-module (the visual backbone) for the first epochs."""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


@HOOKS.register_module()
class FreezeModuleHook(Hook):
    """Stop gradients to ``module`` for the first ``freeze_epochs`` epochs.

    AVSegFormer trains the head on a frozen backbone first (S4: 5 epochs,
    MS3: 10, AVSS: 0) and then the whole model. Freezing sets
    ``requires_grad=False`` (no backward through the backbone, no optimizer
    state for it) and leaves normalisation layers in training mode, as the
    release does. Under DDP the backbone's parameters get no gradient while
    frozen, so the config must set
    ``model_wrapper_cfg = dict(find_unused_parameters=True)`` (the shipped
    configs do).

    Args:
        freeze_epochs (int): Epochs (from 0) during which the module is
            frozen. 0 disables the hook.
        module_name (str): Attribute path of the module in the model.
            Defaults to ``'backbone'``.
        freeze_iters (int, optional): For iteration-based loops: iterations
            instead of epochs.
    """

    priority = 'NORMAL'

    def __init__(self,
                 freeze_epochs: int = 0,
                 module_name: str = 'backbone',
                 freeze_iters: Optional[int] = None):
        self.freeze_epochs = freeze_epochs
        self.freeze_iters = freeze_iters
        self.module_name = module_name
        self._frozen = None
        self._trainable = None

    def _module(self, runner):
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        module = model
        for name in self.module_name.split('.'):
            module = getattr(module, name)
        return module

    def _set_frozen(self, runner, frozen: bool) -> None:
        if frozen == self._frozen:
            return
        module = self._module(runner)
        if frozen:
            # Remember what was trainable, so that unfreezing leaves the
            # module's own frozen parts (frozen_stages, fixed norms) alone.
            self._trainable = [
                p for p in module.parameters() if p.requires_grad
            ]
            for param in self._trainable:
                param.requires_grad_(False)
        elif self._trainable is not None:
            for param in self._trainable:
                param.requires_grad_(True)
        self._frozen = frozen
        print_log(
            f'{"Froze" if frozen else "Unfroze"} model.{self.module_name} '
            f'at epoch {runner.epoch}, iteration {runner.iter}.',
            logger='current')

    def before_train_epoch(self, runner) -> None:
        """Freeze or unfreeze by epoch (a resumed run lands right too)."""
        if self.freeze_iters is None:
            self._set_frozen(runner, runner.epoch < self.freeze_epochs)

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        """Freeze or unfreeze by iteration when ``freeze_iters`` is set."""
        if self.freeze_iters is not None:
            self._set_frozen(runner, runner.iter < self.freeze_iters)
