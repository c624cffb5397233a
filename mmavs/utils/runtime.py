# Copyright (c) mmavs contributors. All rights reserved.
"""Runner set-up shared by ``tools/train.py`` and ``tools/test.py``."""
import logging
import os

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.logging import print_log


def setup_cpu_distributed(cfg: Config, launcher: str) -> bool:
    """Let a distributed run work on machines without CUDA.

    mmengine's ``init_dist`` always calls ``torch.cuda.set_device`` and its
    DDP wrapper always passes ``device_ids``; both fail without a GPU. When
    ``launcher`` is not ``'none'`` and CUDA is unavailable, this starts the
    ``gloo`` process group from the launcher's environment variables
    (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``; the Runner
    then skips its own initialisation) and wraps the model in DDP without
    ``device_ids``. GPU runs are left untouched.

    Args:
        cfg (Config): The config, modified in place.
        launcher (str): ``'none'``, ``'pytorch'``, ``'slurm'`` or ``'mpi'``.

    Returns:
        bool: Whether the CPU set-up was applied.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {launcher} without CUDA is not supported; use '
            '`tools/dist_train.sh` (torchrun, --launcher pytorch) on CPU.')
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = \
        'gloo'
    print_log('No CUDA: distributed run on CPU with the gloo backend.',
              logger='current', level=logging.INFO)
    return True


def enable_amp(cfg: Config) -> None:
    """Switch the optimizer wrapper to mixed precision (``--amp``).

    On CUDA this is mmengine's ``AmpOptimWrapper`` with dynamic loss
    scaling (fp16), or bf16 when ``optim_wrapper.dtype='bfloat16'`` is set.
    mmengine does not support AMP training on CPU; a clear error says so.

    Args:
        cfg (Config): The config, modified in place.

    Raises:
        RuntimeError: Without CUDA.
    """
    if not torch.cuda.is_available():
        raise RuntimeError(
            '--amp needs a CUDA GPU: mmengine\'s AmpOptimWrapper does not '
            'run on CPU. Drop --amp to train in fp32 on this machine.')
    wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
    if wrapper_type == 'AmpOptimWrapper':
        print_log('AMP training is already enabled in the config.',
                  logger='current', level=logging.WARNING)
        return
    if wrapper_type != 'OptimWrapper':
        raise ValueError('--amp works with optim_wrapper type OptimWrapper, '
                         f'got {wrapper_type}')
    cfg.optim_wrapper.type = 'AmpOptimWrapper'
    if cfg.optim_wrapper.get('dtype') != 'bfloat16':
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
