# Copyright (c) mmavs contributors. All rights reserved.
"""Shared pytest set-up: import the stack once per test process."""
import os

import pytest
import torch

from mmavs.testing._utils import REPO_ROOT
from mmavs.utils import register_all_modules

# Tools run as subprocesses (python tools/test.py ...) import mmavs through
# the environment's editable install, which points at whichever clone ran
# `make env` last; this checkout comes first, so they test this code.
os.environ['PYTHONPATH'] = os.pathsep.join(
    filter(None, [REPO_ROOT, os.environ.get('PYTHONPATH')]))

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


@pytest.fixture(scope='session')
def videos(tmp_path_factory):
    """Test videos shared by the tests (read-only)."""
    pytest.importorskip('av')
    from mmavs.testing.videos import write_test_video
    root = tmp_path_factory.mktemp('videos')
    return dict(
        # 3.2 s, 10 fps, 48x64, H.264 + AAC tone.
        mp4=write_test_video(root / 'tone.mp4'),
        # Odd size, lossless codec (H.264 4:2:0 needs even sizes), flac.
        odd=write_test_video(
            root / 'odd.mkv',
            seconds=2.2,
            size=(33, 47),
            vcodec='ffv1',
            pix_fmt='bgr0',
            acodec='flac'),
        # Variable frame rate: 1 ms clock, intervals 0.05-0.15 s.
        vfr=write_test_video(root / 'vfr.mp4', seconds=2.4, jitter=True),
    )


@pytest.fixture(scope='session')
def built_wheel(tmp_path_factory):
    """The mmavs wheel, built once from a copy of the checkout (building in
    place would write mmavs/.mim and build/ into it)."""
    import shutil
    import subprocess
    import sys

    from mmavs.testing._utils import REPO_ROOT
    source = tmp_path_factory.mktemp('source') / 'mmavs'
    shutil.copytree(
        REPO_ROOT, source,
        ignore=shutil.ignore_patterns('.git', 'work_dirs', 'build', 'dist',
                                      '*.egg-info', '__pycache__', '.mim',
                                      '.pytest_cache', 'data'))
    out = tmp_path_factory.mktemp('wheel')
    result = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', '--no-deps',
         '--no-build-isolation', '-q', '-w', str(out), str(source)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    (wheel, ) = out.glob('mmavs-*.whl')
    return wheel
