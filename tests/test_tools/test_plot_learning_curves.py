# Copyright (c) mmavs contributors. All rights reserved.
"""tools/analysis_tools/plot_learning_curves.py reads mmengine scalars."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np

from mmavs.testing._utils import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                  'plot_learning_curves.py')
spec = importlib.util.spec_from_file_location('plot_learning_curves', SCRIPT)
plot_learning_curves = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plot_learning_curves)


def _write_run(work_dir, values):
    vis = work_dir / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    with open(vis / 'scalars.json', 'w') as file:
        for epoch, value in enumerate(values, 1):
            # A training record (has 'iter'; 10 iterations of 3 s each per
            # epoch) with the same key is not a validation.
            file.write(json.dumps(dict(M_J=-1.0, iter=10, step=10 * epoch,
                                       epoch=epoch, time=3.0)) + '\n')
            file.write(json.dumps(dict(M_J=value, M_F=value,
                                       step=epoch)) + '\n')


def test_curves_are_read_and_drawn(tmp_path):
    read_val_curve = plot_learning_curves.read_val_curve
    parse_run = plot_learning_curves.parse_run
    _write_run(tmp_path / 'a', [40.0, 60.0, 75.5])
    _write_run(tmp_path / 'b', [20.0, 30.0])
    assert read_val_curve(str(tmp_path / 'a')) == [(1, 40.0), (2, 60.0),
                                                   (3, 75.5)]
    assert read_val_curve(str(tmp_path / 'b'), x='time') == [(0.5, 20.0),
                                                             (1.0, 30.0)]
    assert parse_run('MS3:light=x=y') == ('MS3', 'light', 'x=y')
    assert parse_run('light=dir') == ('', 'light', 'dir')
    out = tmp_path / 'curves.png'
    result = subprocess.run(
        [sys.executable, 'tools/analysis_tools/plot_learning_curves.py',
         f'S4:a={tmp_path / "a"}', f'MS3:b={tmp_path / "b"}', '--out',
         str(out), '--x', 'time'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    image = cv2.imread(str(out))
    assert image is not None and image.shape[1] > image.shape[0]  # 2 panels
    # Each panel (the left and right halves) holds its run's line, in
    # matplotlib's first colour (#1f77b4, BGR below). Its legend entry alone
    # gives about 60 such pixels; the curves, spanning their panel, over 700.
    blue = np.abs(image.astype(int) - (180, 119, 31)).max(axis=-1) < 40
    half = image.shape[1] // 2
    assert blue[:, :half].sum() > 300
    assert blue[:, half:].sum() > 300


def test_loss_and_metric_of_a_real_run(tmp_path):
    """On the logs a Runner writes: training loss by iteration, M_J by
    epoch, one row of panels each."""
    from mmengine.runner import Runner

    from mmavs.datasets.synthetic import make_synthetic_avsbench
    from mmavs.testing import get_tiny_train_config
    root = make_synthetic_avsbench(
        str(tmp_path / 'data'), tasks='s4',
        num_clips=dict(train=4, val=2, test=2), image_size=32,
        num_categories=2)['s4']
    cfg = get_tiny_train_config(
        'avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py', root,
        str(tmp_path / 'work'), image_size=(32, 32), max_epochs=2)
    cfg.default_hooks.pop('visualization', None)
    # Visualizers are named singletons: in a process that already ran a
    # Runner, the default name would log into that run's folder.
    cfg.visualizer.name = f'curves_{tmp_path.name}'
    Runner.from_cfg(cfg).train()
    read = plot_learning_curves.read_val_curve
    loss = read(str(tmp_path / 'work'), 'loss')
    assert [step for step, _ in loss] == [1, 2, 3, 4]  # 2 batches x 2 epochs
    assert all(value > 0 for _, value in loss)
    assert [epoch for epoch, _ in read(str(tmp_path / 'work'))] == [1, 2]
    # What the records say, not the key's name: lr is only logged in
    # training, data_time in validation too.
    kinds = {key: plot_learning_curves.read_curve(str(tmp_path / 'work'),
                                                  key)[1]
             for key in ('loss', 'lr', 'data_time', 'M_J')}
    assert kinds == dict(loss=True, lr=True, data_time=False, M_J=False)
    out = tmp_path / 'run.png'
    result = subprocess.run(
        [sys.executable, 'tools/analysis_tools/plot_learning_curves.py',
         f'tiny={tmp_path / "work"}', '--key', 'loss', 'M_J', '--out',
         str(out)], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    image = cv2.imread(str(out))
    assert image.shape[0] > image.shape[1]  # two rows, one column
