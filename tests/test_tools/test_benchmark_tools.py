# Copyright (c) mmavs contributors. All rights reserved.
"""The benchmark tools run and report every figure (no timing asserts)."""
import json
import os.path as osp
import subprocess
import sys

from mmavs.testing._utils import REPO_ROOT

DEMO = 'configs/demo/avsegformer-tiny_r18_1xb8-8e_synthetic-s4-64x64.py'


def run(args):
    result = subprocess.run([sys.executable] + args, cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_inference_benchmark_reports_stages(tmp_path):
    out = str(tmp_path / 'bench.json')
    stdout = run(['tools/analysis_tools/benchmark.py', DEMO, '--size', '64',
                  '64', '--batch-sizes', '1', '--warmup', '0', '--repeats',
                  '2', '--audio', 'features', '--no-flops', '--out', out])
    assert 'deformable attention / head forward' in stdout
    with open(out) as f:
        report = json.load(f)
    run_ = report['runs'][0]
    assert run_['batch_size'] == 1 and report['frames'] == 5
    assert run_['latency_s']['n'] == 2 and run_['clips_per_s'] > 0
    assert {'backbone', 'encoder', 'decoder', 'deformable_attention',
            'head'} <= set(run_['stage_s'])
    assert 0 < run_['deformable_share_of_head'] < 1
    assert report['params_m'] > 70  # VGGish alone has 72 M


def test_train_speed_reports_loader_and_model(tmp_path):
    out = str(tmp_path / 'speed.json')
    run(['tools/analysis_tools/train_speed.py', DEMO, '--synthetic',
         '--num-clips', '4', '--batch-size', '2', '--iters', '1',
         '--warmup', '0', '--workers', '0', '--out', out])
    with open(out) as f:
        report = json.load(f)
    assert report['loader']['clips_per_s'] > 0
    fp32 = report['runs'][0]
    assert fp32['model']['s_per_iter'] > 0
    assert fp32['end_to_end']['clips_per_s'] > 0
    assert osp.basename(report['config']).startswith('avsegformer-tiny')
