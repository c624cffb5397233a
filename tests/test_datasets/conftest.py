# Copyright (c) mmavs contributors. All rights reserved.
"""A tiny synthetic AVSBench shared by the dataset tests."""
import shutil

import pytest

from mmavs.datasets.synthetic import TASK_FOLDERS, make_synthetic_avsbench

#: Non-square on purpose, so that a swapped height/width shows.
IMAGE_SIZE = (48, 64)
#: AVSS splits with >= 3 clips get one v1s and one v1m clip.
NUM_CLIPS = dict(train=4, val=3, test=2)


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """Read-only synthetic S4/MS3/AVSS data; tests must not modify it."""
    root = tmp_path_factory.mktemp('avsbench')
    make_synthetic_avsbench(
        str(root), num_clips=NUM_CLIPS, image_size=IMAGE_SIZE, seed=3)
    return root


@pytest.fixture
def task_root(synthetic_root):
    """Path of a sub-task folder of the shared data: ``task_root('s4')``."""
    return lambda task: str(synthetic_root / TASK_FOLDERS[task])


@pytest.fixture
def writable_task(synthetic_root, tmp_path):
    """A private copy of a sub-task folder that a test may break."""

    def copy(task):
        target = tmp_path / TASK_FOLDERS[task]
        shutil.copytree(synthetic_root / TASK_FOLDERS[task], target)
        return str(target)

    return copy
