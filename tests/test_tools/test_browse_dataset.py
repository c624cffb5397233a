# Copyright (c) mmavs contributors. All rights reserved.
"""tools/analysis_tools/browse_dataset.py draws clips after the pipeline."""
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmavs.datasets.synthetic import make_synthetic_avsbench
from mmavs.testing._utils import REPO_ROOT

S4 = 'configs/avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py'


@pytest.mark.parametrize('split, labelled', [('train', [0]),
                                             ('test', [0, 1, 2, 3, 4])])
def test_grid_holds_frames_masks_and_sound(tmp_path, split, labelled):
    roots = make_synthetic_avsbench(
        str(tmp_path / 'data'), tasks='s4',
        num_clips=dict(train=2, val=1, test=1), image_size=48)
    out_dir = tmp_path / 'out'
    result = subprocess.run(
        [sys.executable, 'tools/analysis_tools/browse_dataset.py', S4,
         '--split', split, '--output-dir', str(out_dir), '--max-clips', '1',
         '--cfg-options',
         f'{split}_dataloader.dataset.data_root={roots["s4"]}'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f'1 of {2 if split == "train" else 1} {split} clips' in (
        result.stdout)
    (png, ) = out_dir.glob('*.png')
    grid = cv2.imread(str(png))
    size = 224  # the config's pipeline output
    # Rows: frames, ground truth over them, log-mel; 5 frames side by side.
    assert grid.shape == (3 * size, 5 * size, 3)
    frames, truth, sound = (grid[row * size:(row + 1) * size]
                            for row in range(3))
    for index in range(5):
        columns = slice(index * size, (index + 1) * size)
        overlaid = not np.array_equal(frames[:, columns], truth[:, columns])
        # Only labelled frames carry a mask (S4 training labels frame 0).
        assert overlaid == (index in labelled), index
        assert sound[:, columns].std() > 5  # a spectrogram, not a flat fill
