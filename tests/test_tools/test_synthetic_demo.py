# Copyright (c) mmavs contributors. All rights reserved.
"""tools/demo/synthetic_demo.py: trains the light-encoder demo model and
prints and saves its listening report (shrunk to a few clips)."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mmavs.testing._utils import REPO_ROOT

DEMO_S4 = 'avsegformer-tiny_r18-lightaudio_1xb8-8e_synthetic-s4-64x64.py'


def load_demo():
    spec = importlib.util.spec_from_file_location(
        'synthetic_demo', osp.join(REPO_ROOT, 'tools', 'demo',
                                   'synthetic_demo.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_training_clips_follow_the_recipe_of_the_task():
    demo = load_demo()
    # S4 labels one frame per clip: its recipe is 640 clips x 8 epochs.
    s4 = demo.parse_args(['--task', 's4'])
    assert demo.training_clips(s4) == 640
    assert Config.fromfile(osp.join(
        REPO_ROOT, 'configs', 'demo', DEMO_S4)).train_cfg.max_epochs == 8
    assert demo.training_clips(demo.parse_args(['--task', 'ms3'])) == 320
    assert demo.training_clips(
        demo.parse_args(['--task', 's4', '--num-train', '4'])) == 4
    # 0 is refused, not taken for "the default".
    for flag in ('--num-train', '--epochs', '--num-test'):
        with pytest.raises(SystemExit):
            demo.parse_args([flag, '0'])


def test_demo_trains_and_reports_listening(tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/demo/synthetic_demo.py', '--task', 'ms3',
         '--work-dir', str(tmp_path), '--num-train', '4', '--num-test', '2',
         '--epochs', '1', '--cfg-options', 'model.decode_head.mixer=None'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'synthetic AVSBench-MS3, test set, 2 clips' in result.stdout
    with open(tmp_path / 'summary.json') as file:
        summary = json.load(file)
    assert summary['config'].startswith('avsegformer-tiny_r18-lightaudio')
    # --cfg-options reach the trained model (an ablation without a config).
    assert summary['cfg_options'] == {'model.decode_head.mixer': None}
    trained = Config.fromfile(
        next((tmp_path / 'train').glob('avsegformer-*.py')))
    assert trained.model.decode_head.mixer is None
    listening = summary['listening']
    assert set(listening) == {'keys', 'true', 'swapped', 'silent', 'drop'}
    for mode in ('swapped', 'silent'):
        assert listening['drop'][mode]['M_J'] == pytest.approx(
            listening['true']['M_J'] - listening[mode]['M_J'])
        row = next(line for line in result.stdout.splitlines()
                   if line.startswith(mode))
        assert f'{listening[mode]["M_J"]:.1f}' in row
    for mode in ('true', 'swapped', 'silent'):
        assert list((tmp_path / mode / 'overlays').glob('*.png'))
    with open(tmp_path / 'listening_report.json') as file:
        assert json.load(file)['drop'] == listening['drop']
    # The model under a stable name, loadable with the config it names.
    assert (tmp_path / 'model.pth').is_file()
    assert f'model: {tmp_path / "model.pth"}' in result.stdout


def test_demo_over_several_settings_prints_the_worst_case(tmp_path):
    # Without --epochs the schedule is the config's own (here 1 epoch).
    config = tmp_path / 'one_epoch.py'
    config.write_text(
        f"_base_ = '{REPO_ROOT}/configs/demo/{DEMO_S4}'\n"
        'train_cfg = dict(max_epochs=1)\n')
    work_dir = tmp_path / 'work'
    result = subprocess.run(
        [sys.executable, 'tools/demo/synthetic_demo.py', '--task', 's4',
         '--work-dir', str(work_dir), '--num-train', '4', '--num-test', '2',
         '--config', str(config), '--setting', 'heldout_chirp', 'default',
         'heldout_chirp'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(work_dir / 'settings_summary.json') as file:
        summary = json.load(file)
    # A name given twice runs once; each setting has its own data and model.
    assert list(summary['settings']) == ['heldout_chirp', 'default']
    for name, one in summary['settings'].items():
        assert one['setting'] == name
        assert one['epochs'] == 1
        assert (work_dir / name / 'train' / 'epoch_1.pth').is_file()
        assert (work_dir / name / 'model.pth').is_file()
        assert (work_dir / name / 'data' / 'Single-source').is_dir()
    true = {name: one['listening']['true']['M_J']
            for name, one in summary['settings'].items()}
    worst = min(true, key=true.get)
    assert f'worst true M_J: {true[worst]:.1f} ({worst})' in result.stdout
    assert summary['table'] in result.stdout
    # The chirp scenes are not the default ones: different audio files.
    chirp = (work_dir / 'heldout_chirp' / 'data' / 'Single-source')
    default = (work_dir / 'default' / 'data' / 'Single-source')
    wav = sorted(p.relative_to(chirp) for p in chirp.rglob('*.wav'))[0]
    assert (chirp / wav).read_bytes() != (default / wav).read_bytes()


def test_demo_refuses_an_unknown_setting_before_any_work(tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/demo/synthetic_demo.py', '--work-dir',
         str(tmp_path), '--setting', 'held-out', 'no_such_scenes'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "unknown setting 'no_such_scenes'" in result.stderr
    assert 'heldout_fm' in result.stderr  # the choices are listed
    assert not list(tmp_path.iterdir())
