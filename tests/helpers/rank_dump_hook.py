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
    """Save ``{work_dir}/rank{r}_params.pth`` after training."""

    def after_train(self, runner) -> None:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        torch.save({k: v.detach().cpu() for k, v in
                    model.state_dict().items()},
                   osp.join(runner.work_dir, f'rank{get_rank()}_params.pth'))
