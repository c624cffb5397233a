# Copyright (c) mmavs contributors. All rights reserved.
"""Build a model from a config and load its checkpoint safely, like
``mmseg.apis.init_model``."""
import warnings
from contextlib import contextmanager
from typing import Iterator, Optional, Union

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import MODELS

from mmavs.utils.checkpoint import (config_from_checkpoint,
                                    load_checkpoint_file, load_weights)


#: The in-place initialisers of ``torch.nn.init`` that module constructors
#: call (through ``reset_parameters``).
_INITIALISERS = ('uniform_', 'normal_', 'trunc_normal_', 'constant_',
                 'ones_', 'zeros_', 'eye_', 'dirac_', 'xavier_uniform_',
                 'xavier_normal_', 'kaiming_uniform_', 'kaiming_normal_',
                 'orthogonal_', 'sparse_')


@contextmanager
def skip_weight_init() -> Iterator[None]:
    """Build modules without drawing their random weights.

    A module's constructor fills its parameters with random values (122 M
    of them for the R50 paper config: over a second on a CPU) that a
    checkpoint then overwrites. Inside this context ``torch.nn.init``'s
    in-place initialisers leave their tensor as it is (allocated, not
    filled), so use it only when every parameter is loaded afterwards:
    :func:`~mmavs.utils.checkpoint.load_weights` refuses a checkpoint that
    lacks any. Not thread-safe: it swaps module attributes for its
    duration.
    """
    from torch.nn import init
    saved = {name: getattr(init, name) for name in _INITIALISERS}

    def leave(tensor, *args, **kwargs):
        return tensor

    try:
        for name in _INITIALISERS:
            setattr(init, name, leave)
        yield
    finally:
        for name, function in saved.items():
            setattr(init, name, function)


def init_model(config: Union[str, Config, ConfigDict, None],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build an mmavs model and load its weights.

    The checkpoint is read with ``weights_only=True`` and must fit the model
    (:mod:`mmavs.utils.checkpoint`): no code from the file runs, and weights
    of another model raise instead of leaving layers random. Without a
    config, the one the Runner saved in the checkpoint is read as data.
    With a checkpoint, the model is built without random initialisation
    (:func:`skip_weight_init`): the checkpoint fills every weight.

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
    if loaded is None:
        model = MODELS.build(cfg.model)
    else:
        # Every weight comes from the checkpoint (load_weights checks).
        with skip_weight_init():
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
