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


def train_run(dtype, model_clips_per_s):
    return dict(
        dtype=dtype,
        model=dict(s_per_iter=4 / model_clips_per_s,
                   clips_per_s=model_clips_per_s),
        end_to_end=dict(s_per_iter=0.5, clips_per_s=8.0),
        memory=dict(cpu_rss_mb=3000.0, cuda_max_allocated_mb=20480.4))


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
    return tmp_path


def test_tables_and_the_speedup_target(out_dir):
    text = benchmark_report.build_report(str(out_dir), target=1.5)
    lines = text.splitlines()
    name = 'avsegformer_pvtv2-b5_1xb4-30e_avsbench-s4-224x224'
    assert (f'| {name} | NVIDIA H100 80GB HBM3 | bf16 | 4 x 5 | 42.5 | '
            '94.10 | 470.6 | 12.3% | 3000 |') in lines
    assert (f'| {name} | NVIDIA H100 80GB HBM3 | fp32 | 4 | 0.400 | 10.00 | '
            '8.00 | 80.00 | 20480 |') in lines
    assert ('fp32 runs with TF32 matmuls off and TF32 convolutions on.'
            in lines)
    assert (f'- {name}, batch 4: bf16 AMP trains at 1.60x the fp32 '
            'throughput (target >= 1.5x: met)') in lines
    assert (f'- {name}, batch 4: fp16 AMP trains at 1.40x the fp32 '
            'throughput (target >= 1.5x: NOT met)') in lines


def test_command_line_and_empty_folder(out_dir, tmp_path_factory):
    result = subprocess.run([sys.executable, SCRIPT, str(out_dir)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith('### Inference')
    with pytest.raises(FileNotFoundError, match='no infer_'):
        benchmark_report.build_report(str(tmp_path_factory.mktemp('e')))
