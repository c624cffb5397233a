# Copyright (c) mmavs contributors. All rights reserved.
"""tools/demo/synthetic_demo.py: trains the light-encoder demo model and
prints and saves its listening report (shrunk to a few clips)."""
import json
import subprocess
import sys

import pytest

from mmavs.testing._utils import REPO_ROOT


def test_demo_trains_and_reports_listening(tmp_path):
    result = subprocess.run(
        [sys.executable, 'tools/demo/synthetic_demo.py', '--task', 'ms3',
         '--work-dir', str(tmp_path), '--num-train', '4', '--num-test', '2',
         '--epochs', '1'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'synthetic AVSBench-MS3, test set, 2 clips' in result.stdout
    with open(tmp_path / 'summary.json') as file:
        summary = json.load(file)
    assert summary['config'].startswith('avsegformer-tiny_r18-lightaudio')
    listening = summary['listening']
    assert set(listening) == {'true', 'swapped', 'silent', 'drop'}
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
