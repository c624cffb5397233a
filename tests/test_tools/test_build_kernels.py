# Copyright (c) mmavs contributors. All rights reserved.
"""tools/misc/build_kernels.py: what it says when it cannot build."""
import os
import subprocess
import sys

import pytest
import torch

from mmavs.testing._utils import REPO_ROOT
from mmavs.ops import has_compiled_mmcv_ops


@pytest.mark.skipif(has_compiled_mmcv_ops(),
                    reason='full mmcv: the tool has nothing to build')
@pytest.mark.skipif(torch.version.cuda is None, reason='CPU-only torch')
def test_without_a_toolkit_it_fails_and_says_why(tmp_path):
    env = dict(os.environ, CUDA_HOME=str(tmp_path),
               MMAVS_KERNEL_DIR=str(tmp_path / 'kernels'))
    result = subprocess.run(
        [sys.executable, 'tools/misc/build_kernels.py', '--arch', '9.0'],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert 'error: No CUDA compiler found' in result.stderr
    assert str(tmp_path) in result.stderr
    assert not (tmp_path / 'kernels').exists()
