# Copyright (c) mmavs contributors. All rights reserved.
"""Build a model from a config and load its checkpoint safely, like
``mmseg.apis.init_model``."""
import warnings
from typing import Optional, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import MODELS

from mmavs.utils.checkpoint import (config_from_checkpoint,
                                    load_checkpoint_file, load_weights)


def init_model(config: Union[str, Config, ConfigDict, None],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build an mmavs model and load its weights.

    The checkpoint is read with ``weights_only=True`` and must fit the model
    (:mod:`mmavs.utils.checkpoint`): no code from the file runs, and weights
    of another model raise instead of leaving layers random. Without a
    config, the one the Runner saved in the checkpoint is read as data.

    Args:
        config (str | Config | ConfigDict, optional): Config file or object;
            None takes the checkpoint's.
        checkpoint (str, optional): Weights; None keeps the random ones
            (with a warning).
        device (str): Where the model goes. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        torch.nn.Module: The model in eval mode, with ``cfg`` and, when the
        checkpoint has it, ``dataset_meta``.

    Raises:
        CheckpointError: The checkpoint is unusable or does not fit.
    """
    loaded = None if checkpoint is None else load_checkpoint_file(checkpoint)
    if isinstance(config, str):
        cfg = Config.fromfile(config)
    elif config:
        cfg = config
    elif loaded is not None:
        cfg = config_from_checkpoint(loaded, checkpoint)
    else:
        raise ValueError('init_model needs a config or a checkpoint that '
                         'holds one')
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    # Never fetch pretrained weights: the checkpoint replaces them.
    cfg.model.pop('pretrained', None)
    model = MODELS.build(cfg.model)
    model.cfg = cfg
    if loaded is None:
        warnings.warn('No checkpoint given: the model has random weights; '
                      'its masks mean nothing.')
    else:
        load_weights(model, loaded, checkpoint)
        meta = (loaded.get('meta') or {}).get('dataset_meta')
        if meta:
            model.dataset_meta = dict(
                classes=meta.get('classes'), palette=meta.get('palette'))
    return model.to(device).eval()
