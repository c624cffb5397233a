# Copyright (c) mmavs contributors. All rights reserved.
"""tools/analysis_tools/benchmark_report.py: JSON figures to markdown."""
import importlib.util
import json
import os.path as osp
import subprocess
import sys

import pytest

from mmavs.testing._utils import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'analysis_tools',
                  'benchmark_report.py')
spec = importlib.util.spec_from_file_location('benchmark_report', SCRIPT)
benchmark_report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(benchmark_report)

PVT = ('configs/avsegformer/'
       'avsegformer_pvtv2-b5_1xb4-30e_avsbench-s4-224x224.py')
R50 = 'configs/avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py'


def train_run(dtype, model_clips_per_s, kernel=None):
    run = dict(
        dtype=dtype,
        model=dict(s_per_iter=4 / model_clips_per_s,
                   clips_per_s=model_clips_per_s),
        end_to_end=dict(s_per_iter=0.5, clips_per_s=8.0),
        memory=dict(cpu_rss_mb=3000.0, cuda_max_allocated_mb=20480.4))
    if kernel is not None:
        run.update(kernel=kernel, kernel_used=kernel)
        del run['end_to_end']  # gpu_benchmark.sh: --modes model
    return run


def msda_run(kernel, dtype, forward_backward_ms, error=1e-7, checked=True,
             ok=True):
    timing = dict(median=forward_backward_ms, q1=0, q3=0, n=20)
    return dict(kernel=kernel, dtype=dtype, forward_backward_ms=timing,
                forward_ms=dict(timing, median=forward_backward_ms / 3),
                step_peak_mib=512.4,
                error=dict(output=error, grad_value=error / 2,
                           grad_locations=0.0, grad_weights=0.0),
                error_checked=checked, error_ok=ok)


@pytest.fixture
def out_dir(tmp_path):
    infer = dict(
        config=PVT, device='cuda', device_name='NVIDIA H100 80GB HBM3',
        frames=5, runs=[
            dict(dtype='bf16', batch_size=4,
                 latency_s=dict(median=0.0425, q1=0.04, q3=0.045, n=20),
                 clips_per_s=94.1, frames_per_s=470.6,
                 deformable_share_of_head=0.123,
                 memory=dict(cpu_rss_mb=2000.0,
                             cuda_max_allocated_mb=3000.0))
        ])
    train = dict(config=PVT, device='cuda',
                 device_name='NVIDIA H100 80GB HBM3',
                 tf32=dict(matmul=False, cudnn=True), batch_size=4, workers=8,
                 loader=dict(s_per_batch=0.05, clips_per_s=80.0),
                 runs=[train_run('fp32', 10.0), train_run('bf16', 16.0),
                       train_run('fp16', 14.0)])
    (tmp_path / 'infer_pvt.json').write_text(json.dumps(infer))
    (tmp_path / 'train_pvt.json').write_text(json.dumps(train))
    kernels = dict(train, config=R50, runs=[
        train_run('fp32', 10.0, 'pytorch'), train_run('bf16', 12.0, 'pytorch'),
        train_run('fp32', 12.5, 'triton'), train_run('bf16', 20.0, 'triton'),
        dict(dtype='fp32', kernel='compiled',
             skipped='KernelBuildError: nvcc not found')])
    (tmp_path / 'train_r50.json').write_text(json.dumps(kernels))
    msda = dict(
        device='cuda', device_name='NVIDIA H100 80GB HBM3', batch=20,
        skipped={}, failures=['compiled bf16 512 px: error 2.00e-02 > 0.01'],
        cases=[
            dict(size=224, shapes=[[28, 28], [14, 14], [7, 7]],
                 num_query=1029, runs=[
                     msda_run('pytorch', 'fp32', 9.0, 0.0, checked=False),
                     msda_run('triton', 'fp32', 2.0),
                     msda_run('compiled', 'fp32', 1.6),
                 ]),
            dict(size=512, shapes=[[64, 64], [32, 32], [16, 16]],
                 num_query=5376, runs=[
                     msda_run('pytorch', 'bf16', 40.0, 0.3, checked=False),
                     msda_run('triton', 'bf16', 8.0, 3e-3),
                     msda_run('compiled', 'bf16', 7.0, 2e-2, ok=False),
                 ])
        ])
    (tmp_path / 'msda_s4.json').write_text(json.dumps(msda))
    return tmp_path


def test_tables_and_the_speedup_target(out_dir):
    text = benchmark_report.build_report(str(out_dir), target=1.5)
    lines = text.splitlines()
    name = 'avsegformer_pvtv2-b5_1xb4-30e_avsbench-s4-224x224'
    assert (f'| {name} | NVIDIA H100 80GB HBM3 | bf16 | 4 x 5 | 42.5 | '
            '94.10 | 470.6 | 12.3% | 3000 |') in lines
    assert (f'| {name} | NVIDIA H100 80GB HBM3 | - | fp32 | 4 | 0.400 | '
            '10.00 | 8.00 | 80.00 | 20480 |') in lines
    assert ('fp32 runs with TF32 matmuls off and TF32 convolutions on.'
            in lines)
    assert (f'- {name}, batch 4: bf16 AMP trains at 1.60x the fp32 '
            'throughput (target >= 1.5x: met)') in lines
    assert (f'- {name}, batch 4: fp16 AMP trains at 1.40x the fp32 '
            'throughput (target >= 1.5x: NOT met)') in lines


def test_kernel_tables_and_targets(out_dir):
    text = benchmark_report.build_report(str(out_dir), target=1.5,
                                         triton_vs_compiled=1.3,
                                         triton_vs_pytorch=3.0)
    lines = text.splitlines()
    gpu = 'NVIDIA H100 80GB HBM3'
    assert lines[0] == '### Deformable attention kernels'
    assert (f'| {gpu} | 224 | 20 x 1029 | triton | fp32 | 2.00 | 0.67 | 512 '
            '| 1.0e-07 | ok |') in lines
    assert (f'| {gpu} | 224 | 20 x 1029 | pytorch | fp32 | 9.00 | 3.00 | '
            '512 | 0.0e+00 | reference |') in lines
    assert (f'| {gpu} | 512 | 20 x 5376 | compiled | bf16 | 7.00 | 2.33 | '
            '512 | 2.0e-02 | FAILED |') in lines
    assert (f'- {gpu}, 224 px, fp32: Triton forward+backward: 1.25x the '
            "compiled kernel's time (target <= 1.3x: met), 4.50x faster "
            'than PyTorch (target >= 3x: met)') in lines
    assert (f'- {gpu}, 512 px, bf16: Triton forward+backward: 1.14x the '
            "compiled kernel's time (target <= 1.3x: met), 5.00x faster "
            'than PyTorch (target >= 3x: met)') in lines
    assert ('- error check FAILED: compiled bf16 512 px: error 2.00e-02 > '
            '0.01') in lines
    # Stricter targets flip the verdicts.
    strict = benchmark_report.build_report(str(out_dir), 1.5, 1.2, 5.0)
    assert ("1.25x the compiled kernel's time (target <= 1.2x: NOT met), "
            '4.50x faster than PyTorch (target >= 5x: NOT met)') in strict
    # Training per kernel: skipped runs, speed-ups over PyTorch, AMP per
    # kernel.
    r50 = 'avsegformer_r50_1xb4-30e_avsbench-s4-224x224'
    assert (f'| {r50} | {gpu} | triton | bf16 | 4 | 0.200 | 20.00 | - | '
            '80.00 | 20480 |') in lines
    assert (f'| {r50} | {gpu} | compiled | fp32 | 4 | skipped | - | - | - | '
            '- |') in lines
    assert (f'- {r50}, fp32: triton kernel trains at 1.25x the PyTorch '
            "path's throughput") in lines
    assert (f'- {r50}, batch 4, triton kernel: bf16 AMP trains at 1.60x the '
            'fp32 throughput (target >= 1.5x: met)') in lines
    assert (f'- {r50}, batch 4, pytorch kernel: bf16 AMP trains at 1.20x '
            'the fp32 throughput (target >= 1.5x: NOT met)') in lines


def test_command_line_and_empty_folder(out_dir, tmp_path_factory):
    result = subprocess.run([sys.executable, SCRIPT, str(out_dir)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith('### Deformable attention kernels')
    with pytest.raises(FileNotFoundError, match='no msda_'):
        benchmark_report.build_report(str(tmp_path_factory.mktemp('e')))
