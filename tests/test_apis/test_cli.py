# Copyright (c) mmavs contributors. All rights reserved.
"""The ``mmavs-demo`` command line (``tools/demo/video_demo.py``)."""
import importlib.metadata
import json
import os
import os.path as osp
import warnings

import cv2
import pytest
import torch

from mmavs.datasets.video_io import iter_video_frames, probe_video
from mmavs.apis.cli import main

DEMO_CONFIG = 'avsegformer-tiny_r18_1xb8-8e_synthetic-s4-64x64'


def test_cli_many_inputs(videos, tmp_path, capsys):
    """Two good inputs and a missing one: outputs for the good ones, an
    error line for the other, exit status 1."""
    out = tmp_path / 'out'
    missing = str(tmp_path / 'missing.mp4')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # random weights
        status = main([
            videos['mp4'], missing, videos['odd'], '--config', DEMO_CONFIG,
            '--device', 'cpu', '--out-dir',
            str(out), '--batch-size', '2'
        ])
    captured = capsys.readouterr()
    assert status == 1
    assert f'error: {missing}: file is missing' in captured.err
    assert '2 of 3 inputs done' in captured.out
    assert 'frame' in captured.err  # the progress bars
    for name, video, size in (('tone', videos['mp4'], (48, 64)),
                              ('odd', videos['odd'], (33, 47))):
        folder = out / name
        masks = sorted(os.listdir(folder / 'masks'))
        with open(folder / 'summary.json') as file:
            summary = json.load(file)
        assert len(masks) == summary['num_frames'] == int(summary['duration'] +
                                                          0.5)
        assert cv2.imread(
            str(folder / 'masks' / masks[0]),
            cv2.IMREAD_UNCHANGED).shape == size
        overlay = probe_video(folder / 'overlay.mp4')
        assert overlay.has_audio
        assert overlay.duration == pytest.approx(summary['duration'], abs=0.05)
        assert len(list(iter_video_frames(folder / 'overlay.mp4'))) == len(
            list(iter_video_frames(video)))
    assert not osp.exists(out / 'missing')


def test_cli_options(helpers, tmp_path, capsys):
    out = tmp_path / 'out'
    video = helpers.write_test_video(
        tmp_path / 'vfr.mp4', seconds=1.2, jitter=True)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        status = main([
            video, video, '--config', DEMO_CONFIG, '--device', 'cpu',
            '--out-dir',
            str(out), '--fps', 'all', '--no-overlay', '--no-masks',
            '--no-progress', '--num-frames', '2'
        ])
    assert status == 0
    assert sorted(os.listdir(out)) == ['vfr', 'vfr_1']
    assert os.listdir(out / 'vfr') == ['summary.json']
    with open(out / 'vfr_1' / 'summary.json') as file:
        summary = json.load(file)
    assert summary['fps'] == 'all'
    assert summary['num_frames'] == len(list(iter_video_frames(video)))
    assert 'frame/s' not in capsys.readouterr().err


def test_cli_argument_errors(tmp_path, capsys):
    with pytest.raises(SystemExit) as error:
        main([str(tmp_path)])
    assert error.value.code == 2
    assert '--config, --checkpoint' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path), '--config', DEMO_CONFIG, '--fps', '0'])
    with pytest.raises(SystemExit):
        main([str(tmp_path), '--config', 'no_such_config', '--device', 'cpu'])
    assert "No config file or model named 'no_such_config'" in \
        capsys.readouterr().err
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit):
            main([str(tmp_path), '--config', DEMO_CONFIG, '--device', 'cuda'])
        assert 'CUDA is not available' in capsys.readouterr().err


def test_console_entry_point():
    try:
        dist = importlib.metadata.distribution('mmavs')
    except importlib.metadata.PackageNotFoundError:
        pytest.skip('mmavs is not installed')
    points = {
        p.name: p
        for p in dist.entry_points if p.group == 'console_scripts'
    }
    if 'mmavs-demo' not in points:
        pytest.skip('installed before the entry point existed')
    assert points['mmavs-demo'].load() is main
