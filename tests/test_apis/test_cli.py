# Copyright (c) mmavs contributors. All rights reserved.
"""The ``mmavs-demo`` command line (``tools/demo/video_demo.py``)."""
import importlib.metadata
import json
import os
import os.path as osp
import re
import warnings

import cv2
import pytest
import torch

from mmavs.datasets.video_io import iter_video_frames, probe_video
from mmavs.apis.cli import main

# Every test here reads or writes videos.
pytestmark = pytest.mark.usefixtures('needs_av')

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
    with pytest.raises(SystemExit):
        main([str(tmp_path), '--config', DEMO_CONFIG, '--device', 'gpu'])
    assert "--device: device='gpu' is not a device name" in \
        capsys.readouterr().err


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
    import mmavs_cli
    assert points['mmavs-demo'].load() is mmavs_cli.main


def test_help_and_argument_errors_do_not_import_mmavs(tmp_path):
    """The console script parses its arguments before importing mmavs
    (which loads torch, mmcv and mmseg): --help and argument errors answer
    at once."""
    import subprocess
    import sys
    code = ('import sys, mmavs_cli\n'
            'try:\n'
            '    mmavs_cli.main(sys.argv[1:])\n'
            'except SystemExit as exit:\n'
            '    heavy = [m for m in ("torch", "mmavs", "mmseg", "mmcv")\n'
            '             if m in sys.modules]\n'
            '    print(exit.code, heavy)\n')
    for args, status in ((['--help'], 0), (['a.mp4'], 2),
                         (['a.mp4', '--config', 'c', '--fps', '0'], 2)):
        result = subprocess.run([sys.executable, '-c', code] + args,
                                capture_output=True, text=True, timeout=60)
        assert result.stdout.splitlines()[-1] == f'{status} []', (
            result.stdout + result.stderr)


def test_folder_of_videos_and_frame_images(videos, tmp_path, capsys):
    """A folder of videos stands for its videos; --img-out-dir writes the
    overlay of each segmented frame; a frame with nothing sounding has
    zero areas in the summary."""
    import shutil
    clips = tmp_path / 'clips'
    clips.mkdir()
    shutil.copy(videos['mp4'], clips / 'b.mp4')
    shutil.copy(videos['odd'], clips / 'a.mkv')
    (clips / 'notes.txt').write_text('not a video')
    out = tmp_path / 'out'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        status = main([str(clips), '--config', DEMO_CONFIG, '--device',
                       'cpu', '--out-dir', str(out), '--no-overlay',
                       '--img-out-dir', 'vis', '--no-progress'])
    assert status == 0
    assert '2 of 2 inputs done' in capsys.readouterr().out
    assert sorted(os.listdir(out)) == ['a', 'b']
    with open(out / 'b' / 'summary.json') as file:
        summary = json.load(file)
    images = sorted(os.listdir(out / 'b' / 'vis'))
    assert len(images) == summary['num_frames'] == 3
    assert cv2.imread(str(out / 'b' / 'vis' / images[0])).shape == (48, 64, 3)
    for frame in summary['frames']:
        assert set(frame['area']) == {'foreground'}


def test_every_input_failing_writes_nothing(tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        status = main([str(tmp_path / 'none.mp4'), '--config', DEMO_CONFIG,
                       '--device', 'cpu', '--out-dir', str(tmp_path / 'o')])
    assert status == 1
    last = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert re.fullmatch(r'0 of 1 inputs done in [\d.]+ s; nothing written',
                        last), last
