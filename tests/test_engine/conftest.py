# Copyright (c) mmavs contributors. All rights reserved.
import pytest

from mmavs.datasets.synthetic import make_synthetic_avsbench


@pytest.fixture(scope='session')
def synthetic_roots(tmp_path_factory):
    """Tiny synthetic S4, MS3 and AVSS sets in the released layouts."""
    root = tmp_path_factory.mktemp('synthetic_avsbench')
    return make_synthetic_avsbench(
        str(root), num_clips=dict(train=4, val=2, test=2), image_size=64,
        num_categories=3)
