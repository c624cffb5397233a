# Copyright (c) mmavs contributors. All rights reserved.
"""tools/test.py --listening: the report of a tiny model, printed and
written to the work dir and --out."""
import json
import os.path as osp
import subprocess
import sys

import torch
from mmseg.registry import MODELS

from mmavs.datasets.synthetic import make_synthetic_avsbench
from mmavs.testing import get_tiny_train_config
from mmavs.testing._utils import REPO_ROOT

DEMO = 'demo/avsegformer-tiny_r18-lightaudio_1xb8-8e_synthetic-s4-64x64.py'


def test_listening_flag_prints_and_writes_the_report(tmp_path):
    root = make_synthetic_avsbench(
        str(tmp_path / 'data'), tasks='s4',
        num_clips=dict(train=2, val=2, test=3), image_size=32,
        num_categories=3)['s4']
    cfg = get_tiny_train_config(DEMO, root, str(tmp_path / 'work'),
                                image_size=(32, 32))
    config = str(tmp_path / 'tiny.py')
    cfg.dump(config)
    model = MODELS.build(cfg.model)
    model.init_weights()
    checkpoint = str(tmp_path / 'tiny.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), checkpoint)
    work_dir, out_dir = str(tmp_path / 'work'), str(tmp_path / 'out')
    result = subprocess.run(
        [sys.executable, 'tools/test.py', config, checkpoint, '--listening',
         '--work-dir', work_dir, '--out', out_dir],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'listening report (test set, 3 clips)' in result.stdout
    rows = result.stdout.split('listening report')[-1].splitlines()
    assert rows[1].split() == ['audio', 'M_J', 'M_F']
    assert [row.split()[0] for row in rows[2:5]] == [
        'true', 'swapped', 'silent'
    ]
    with open(osp.join(work_dir, 'listening', 'listening_report.json')) as f:
        report = json.load(f)
    with open(osp.join(out_dir, 'listening_report.json')) as f:
        assert json.load(f) == report
    assert report['drop']['silent']['M_J'] == report['true']['M_J'] - \
        report['silent']['M_J']
    assert report['checkpoint'] == checkpoint
    for mode in ('true', 'swapped', 'silent'):
        assert f'{report[mode]["M_J"]:.1f}' in result.stdout
        with open(osp.join(out_dir, mode, 'per_clip_scores.json')) as f:
            assert len(json.load(f)) == 3
