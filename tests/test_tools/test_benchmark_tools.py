# Copyright (c) mmavs contributors. All rights reserved.
"""The benchmark tools run and report every figure (no timing asserts)."""
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

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
    # One run per kernel: the compiled one cannot run on CPU and is
    # recorded as skipped.
    run(['tools/analysis_tools/train_speed.py', DEMO, '--synthetic',
         '--num-clips', '4', '--batch-size', '2', '--iters', '1',
         '--warmup', '0', '--workers', '0', '--kernels', 'pytorch',
         'compiled', '--out', out])
    with open(out) as f:
        report = json.load(f)
    assert report['loader']['clips_per_s'] > 0
    fp32, compiled = report['runs']
    assert fp32['kernel'] == fp32['kernel_used'] == 'pytorch'
    assert fp32['model']['s_per_iter'] > 0
    assert fp32['end_to_end']['clips_per_s'] > 0
    assert compiled['kernel'] == 'compiled'
    assert 'needs CUDA tensors' in compiled['skipped']
    assert osp.basename(report['config']).startswith('avsegformer-tiny')


MSDA = 'tools/analysis_tools/ms_deform_attn_benchmark.py'
TINY = ['--device', 'cpu', '--sizes', '32', '--batch', '2', '--embed-dims',
        '32', '--heads', '2', '--warmup', '0', '--repeats', '1']


def test_kernel_benchmark_shapes():
    spec = importlib.util.spec_from_file_location(
        'ms_deform_attn_benchmark', osp.join(REPO_ROOT, MSDA))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    # The encoder levels of the S4 models at 224 and 512 px.
    assert tool.level_shapes(224, [8, 16, 32]) == [(28, 28), (14, 14),
                                                   (7, 7)]
    assert tool.level_shapes(512, [8, 16, 32]) == [(64, 64), (32, 32),
                                                   (16, 16)]
    args = tool.parse_args([])
    defaults = (args.batch, args.embed_dims, args.heads, args.points)
    assert defaults == (20, 256, 8, 4)


def test_kernel_benchmark_dry_run_on_cpu(tmp_path):
    """Triton in its interpreter against the PyTorch path, tiny shapes."""
    pytest.importorskip('triton')
    out = str(tmp_path / 'msda.json')
    stdout = run([MSDA] + TINY + ['--dtype', 'fp32', 'bf16', '--out', out])
    assert 'compiled: skipped' in stdout
    with open(out) as f:
        report = json.load(f)
    assert 'needs CUDA tensors' in report['skipped']['compiled']
    (case, ) = report['cases']
    assert case['shapes'] == [[4, 4], [2, 2], [1, 1]]
    assert case['num_query'] == 21
    runs = {(r['kernel'], r['dtype']): r for r in case['runs']}
    assert set(runs) == {('pytorch', 'fp32'), ('triton', 'fp32'),
                         ('pytorch', 'bf16'), ('triton', 'bf16')}
    assert max(runs['pytorch', 'fp32']['error'].values()) == 0
    assert not runs['pytorch', 'bf16']['error_checked']
    assert max(runs['triton', 'fp32']['error'].values()) < 1e-6
    assert max(runs['triton', 'bf16']['error'].values()) < 1e-2
    for run_ in case['runs']:
        assert run_['forward_backward_ms']['median'] > 0
        assert run_['error_ok']
    assert report['failures'] == []


def test_kernel_benchmark_fails_beyond_the_error_limit(tmp_path):
    pytest.importorskip('triton')
    result = subprocess.run(
        [sys.executable, MSDA] + TINY +
        ['--kernels', 'triton', '--dtype', 'fp32', '--max-error',
         'fp32=1e-12', '--out', str(tmp_path / 'msda.json')],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1
    assert 'error check failed: triton fp32 32 px' in result.stderr


def test_gpu_script_fails_when_the_kernel_checks_do_not_run(tmp_path):
    """The script's flow control on CPU (``DRY_RUN=1``): with no time
    budget left every step is left out, and leaving out the kernel checks
    is a failure. (The full dry run takes about 2 minutes: see
    docs/benchmark.md.)"""
    script = osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                      'gpu_benchmark.sh')
    assert subprocess.run(['bash', '-n', script]).returncode == 0
    env = dict(os.environ, DRY_RUN='1', BUDGET='0', PYTHON=sys.executable)
    result = subprocess.run(['bash', script, str(tmp_path)], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert ('failed steps: kernel_check(not-run) msda(not-run)'
            in result.stdout)
    assert 'not run (time budget): kernel_check msda train_demo' in (
        result.stdout)
    env_txt = (tmp_path / 'env.txt').read_text()
    assert 'dry run on the CPU' in env_txt and 'triton' in env_txt
