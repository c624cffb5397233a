# Copyright (c) mmavs contributors. All rights reserved.
"""Shared pytest set-up: import the stack once per test process."""
import pytest
import torch

from mmavs.utils import register_all_modules

register_all_modules()
# Two cores: keep torch from oversubscribing them when pytest-xdist runs two
# workers side by side.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_everything():
    """Every test starts from the same random state."""
    import random

    import numpy as np
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)
