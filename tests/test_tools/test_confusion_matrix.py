# Copyright (c) mmavs contributors. All rights reserved.
"""tools/analysis_tools/confusion_matrix.py on what tools/test.py --out
writes for a (tiny, briefly trained) AVSS model."""
import csv
import importlib.util
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmengine.runner import Runner

from mmavs.datasets import AVSBenchSemanticDataset
from mmavs.datasets.readers import read_palette_mask
from mmavs.datasets.synthetic import make_synthetic_avsbench
from mmavs.testing import get_tiny_train_config
from mmavs.testing._utils import REPO_ROOT

TOOL = osp.join(REPO_ROOT, 'tools', 'analysis_tools', 'confusion_matrix.py')
AVSS = 'avsegformer/avsegformer_r50_1xb4-30e_avsbench-avss-224x224.py'


def load_tool():
    spec = importlib.util.spec_from_file_location('confusion_matrix', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def avss_predictions(tmp_path_factory):
    """A trained tiny AVSS model's test predictions, as tools/test.py
    --out writes them, and its config file."""
    root = tmp_path_factory.mktemp('avss')
    data_root = make_synthetic_avsbench(
        str(root / 'data'), tasks='avss',
        num_clips=dict(train=3, val=3, test=3), image_size=32,
        num_categories=3)['avss']
    cfg = get_tiny_train_config(AVSS, data_root, str(root / 'work'),
                                image_size=(32, 32), max_epochs=1)
    cfg.default_hooks.pop('visualization', None)
    config = str(root / 'tiny_avss.py')
    cfg.dump(config)
    Runner.from_cfg(cfg).train()
    out = str(root / 'pred')
    result = subprocess.run(
        [sys.executable, 'tools/test.py', config,
         str(root / 'work' / 'epoch_1.pth'), '--out', out,
         '--work-dir', str(root / 'work')],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return config, data_root, out


def test_matrix_counts_every_labelled_pixel(avss_predictions, tmp_path,
                                            capsys):
    config, data_root, out = avss_predictions
    assert load_tool().main([config, out, str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    matrix = np.load(tmp_path / 'confusion_matrix.npy')
    assert matrix.shape == (71, 71)
    test = AVSBenchSemanticDataset(split='test', data_root=data_root)
    truth_counts = np.zeros(71, np.int64)
    frames = 0
    for index in range(len(test)):
        info = test.get_data_info(index)
        for path, flag in zip(info['seg_map_paths'], info['label_flags']):
            if flag:
                frames += 1
                truth_counts += np.bincount(
                    read_palette_mask(path).ravel(), minlength=71)
    # Rows are the ground truth: every labelled pixel once.
    np.testing.assert_array_equal(matrix.sum(axis=1), truth_counts)
    assert f'{frames} labelled frames' in printed
    with open(tmp_path / 'confusion_matrix.csv') as file:
        rows = list(csv.reader(file))
    assert rows[0][1] == 'background' and len(rows) == 72
    assert int(rows[1][1]) == matrix[0, 0]
    assert (tmp_path / 'confusion_matrix.png').stat().st_size > 10000


def test_missing_prediction_names_the_file(avss_predictions, tmp_path):
    config, _, _ = avss_predictions
    with pytest.raises(FileNotFoundError, match='prediction is missing'):
        load_tool().main([config, str(tmp_path / 'none'), str(tmp_path)])


def test_top_confusions():
    matrix = np.array([[8, 2, 0], [1, 1, 8], [0, 0, 5]])
    top = load_tool().top_confusions(matrix, ['bg', 'a', 'b'], 2)
    assert top == [('a', 'b', 0.8), ('bg', 'a', 0.2)]


def write_binary_predictions(data_root, out, flip_clip=None):
    """0/255 PNGs as tools/test.py --out writes for S4: the ground truth,
    or its inverse for ``flip_clip``. Returns (frames, truth pixel counts
    [background, sounding])."""
    import cv2

    from mmavs.datasets import AVSBenchS4Dataset
    from mmavs.datasets.readers import read_binary_mask
    test = AVSBenchS4Dataset(split='test', data_root=data_root)
    counts = np.zeros(2, np.int64)
    frames = 0
    for index in range(len(test)):
        info = test.get_data_info(index)
        folder = osp.join(out, info['clip_name'])
        for t, path in enumerate(info['seg_map_paths']):
            if not info['label_flags'][t]:
                continue
            gt = read_binary_mask(path)
            counts += np.bincount(gt.ravel(), minlength=2)
            frames += 1
            pred = 1 - gt if info['clip_name'] == flip_clip else gt
            os.makedirs(folder, exist_ok=True)
            cv2.imwrite(osp.join(folder, f'{t}.png'), pred * 255)
    return test, frames, counts


def test_binary_predictions_count_as_foreground(tmp_path, capsys):
    """S4/MS3 predictions are saved as 0/255: 255 is the sounding class."""
    data_root = make_synthetic_avsbench(
        str(tmp_path / 'data'), tasks='s4',
        num_clips=dict(train=1, val=1, test=3), image_size=32)['s4']
    out = str(tmp_path / 'pred')
    test, frames, counts = write_binary_predictions(data_root, out)
    config = osp.join(REPO_ROOT, 'configs', 'avsegformer',
                      'avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py')
    options = ['--cfg-options',
               f'test_dataloader.dataset.data_root={data_root}']
    assert load_tool().main([config, out, str(tmp_path / 'm')] +
                            options) == 0
    matrix = np.load(tmp_path / 'm' / 'confusion_matrix.npy')
    # Perfect predictions: everything on the diagonal, foreground included.
    np.testing.assert_array_equal(matrix, np.diag(counts))
    assert counts[1] > 0
    assert f'{frames} labelled frames' in capsys.readouterr().out
    # One clip predicted inverted: its pixels move off the diagonal.
    flipped = test.get_data_info(0)['clip_name']
    write_binary_predictions(data_root, out, flip_clip=flipped)
    assert load_tool().main([config, out, str(tmp_path / 'f')] +
                            options) == 0
    matrix = np.load(tmp_path / 'f' / 'confusion_matrix.npy')
    np.testing.assert_array_equal(matrix.sum(axis=1), counts)
    assert matrix[0, 1] > 0 and matrix[1, 0] > 0


def test_prediction_outside_the_classes_names_the_file(tmp_path):
    import cv2
    path = str(tmp_path / '0.png')
    cv2.imwrite(path, np.full((4, 4), 80, np.uint8))
    with pytest.raises(ValueError, match=rf'{path}: class id 80 is outside'):
        load_tool().read_prediction(path, 71)
    labels = load_tool().read_prediction(path, 2)
    assert labels.dtype == np.int64 and labels.max() == 1
