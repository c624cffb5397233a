# Copyright (c) mmavs contributors. All rights reserved.
"""A hook for the distributed test: every rank writes its parameters."""
import os.path as osp

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS


@HOOKS.register_module()
class DumpRankParamsHook(Hook):
    """Save ``{work_dir}/rank{r}_{initial,params}.pth`` before and after
    training."""

    def _dump(self, runner, name: str) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        torch.save({k: v.detach().cpu() for k, v in
                    model.state_dict().items()},
                   osp.join(runner.work_dir, f'rank{get_rank()}_{name}.pth'))

    def before_train(self, runner) -> None:
        self._dump(runner, 'initial')

    def after_train(self, runner) -> None:
        self._dump(runner, 'params')
