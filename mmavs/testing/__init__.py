# Copyright (c) mmavs contributors. All rights reserved.
from ._utils import (demo_av_batch, get_config, get_model_cfg,
                     get_tiny_train_config, shrink_model_cfg)

__all__ = [
    'demo_av_batch', 'get_config', 'get_model_cfg', 'get_tiny_train_config',
    'shrink_model_cfg'
]
