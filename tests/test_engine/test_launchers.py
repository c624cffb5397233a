# Copyright (c) mmavs contributors. All rights reserved.
"""The command-line entry points: tools/train.py (with --resume),
tools/test.py, `mim train mmseg`, `mim train mmavs` from an installed wheel
and a 2-process distributed run."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmavs.testing import get_tiny_train_config
from mmavs.testing._utils import REPO_ROOT

S4 = 'avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py'


def write_config(roots, work_dir, **kwargs):
    cfg = get_tiny_train_config(S4, roots['s4'], str(work_dir), **kwargs)
    cfg.custom_hooks = []
    cfg.log_level = 'INFO'
    path = osp.join(str(work_dir), 'tiny_s4.py')
    os.makedirs(str(work_dir), exist_ok=True)
    cfg.dump(path)
    return path


def run(args, timeout=300, env=None):
    result = subprocess.run(
        args, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout,
        env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[
        -3000:]
    return result


def test_train_resume_and_test_scripts(synthetic_roots, tmp_path):
    config = write_config(synthetic_roots, tmp_path, max_epochs=1)
    work_dir = str(tmp_path / 'work')
    run([sys.executable, 'tools/train.py', config, '--work-dir', work_dir])
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))
    result = run([
        sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
        '--resume', '--cfg-options', 'train_cfg.max_epochs=2'
    ])
    assert 'resumed epoch: 1' in (result.stdout + result.stderr).lower()
    assert osp.isfile(osp.join(work_dir, 'epoch_2.pth'))
    out_dir = str(tmp_path / 'out')
    result = run([
        sys.executable, 'tools/test.py', config,
        osp.join(work_dir, 'epoch_2.pth'), '--work-dir', work_dir, '--out',
        out_dir
    ])
    assert 'M_J' in result.stdout + result.stderr
    with open(osp.join(out_dir, 'per_clip_scores.json')) as f:
        assert len(json.load(f)) > 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_amp_training_on_cuda(synthetic_roots, tmp_path, dtype):
    """`tools/train.py --amp`: mmengine's AmpOptimWrapper trains the model
    (fp16 with loss scaling, or bf16) to a finite loss and a checkpoint."""
    config = write_config(synthetic_roots, tmp_path, max_epochs=1)
    work_dir = str(tmp_path / 'amp')
    run([sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
         '--amp', '--cfg-options', f'optim_wrapper.dtype={dtype}'])
    checkpoint = torch.load(osp.join(work_dir, 'epoch_1.pth'),
                            map_location='cpu', weights_only=False)
    # Only mmengine's AmpOptimWrapper saves a loss scaler.
    assert 'loss_scaler' in checkpoint['optimizer']
    assert all(torch.isfinite(value).all()
               for value in checkpoint['state_dict'].values()
               if value.is_floating_point())


def test_mim_train_mmseg(synthetic_roots, tmp_path):
    pytest.importorskip('mim')
    config = write_config(synthetic_roots, tmp_path, max_epochs=1)
    work_dir = str(tmp_path / 'mim_work')
    run([sys.executable, '-m', 'mim', 'train', 'mmseg', config,
         '--work-dir', work_dir])
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))


def test_mim_train_mmavs_from_an_installed_wheel(synthetic_roots, tmp_path,
                                                 built_wheel):
    """What a user who pip-installed mmavs runs: mim finds train.py in the
    package's .mim folder, away from any checkout."""
    pytest.importorskip('mim')
    site = str(tmp_path / 'site')
    run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
         '--no-index', '--target', site, str(built_wheel)])
    assert osp.isfile(osp.join(site, 'mmavs', '.mim', 'tools', 'train.py'))
    config = write_config(synthetic_roots, tmp_path, max_epochs=1)
    work_dir = str(tmp_path / 'mim_work')
    env = dict(os.environ, PYTHONPATH=site)
    result = subprocess.run(
        [sys.executable, '-m', 'mim', 'train', 'mmavs', config,
         '--work-dir', work_dir],
        cwd=str(tmp_path), capture_output=True, text=True, timeout=300,
        env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[
        -3000:]
    assert osp.join(site, 'mmavs', '.mim', 'tools', 'train.py') in (
        result.stdout + result.stderr)
    assert osp.isfile(osp.join(work_dir, 'epoch_1.pth'))


@pytest.mark.skipif(sys.platform != 'linux', reason='uses torchrun')
def test_two_process_gloo_training_keeps_ranks_identical(
        synthetic_roots, tmp_path):
    cfg = get_tiny_train_config(S4, synthetic_roots['s4'],
                                str(tmp_path / 'dist'), max_epochs=1,
                                batch_size=1)
    cfg.custom_hooks = [dict(type='DumpRankParamsHook')]
    cfg.custom_imports = dict(
        imports=['mmavs', 'rank_dump_hook'], allow_failed_imports=False)
    cfg.default_hooks.pop('visualization')
    path = str(tmp_path / 'dist.py')
    cfg.dump(path)
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [osp.join(REPO_ROOT, 'tests', 'helpers'), REPO_ROOT,
         env.get('PYTHONPATH', '')])
    env['PORT'] = str(29500 + os.getpid() % 1000)
    env['OMP_NUM_THREADS'] = '1'
    # The CPU (gloo) path, also on a GPU machine (where two ranks would
    # otherwise share one GPU through NCCL).
    env['CUDA_VISIBLE_DEVICES'] = ''
    env['PYTHON'] = sys.executable
    run(['bash', 'tools/dist_train.sh', path, '2'], timeout=400, env=env)
    rank0 = torch.load(str(tmp_path / 'dist' / 'rank0_params.pth'))
    rank1 = torch.load(str(tmp_path / 'dist' / 'rank1_params.pth'))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # The ranks really trained: the head moved from its initial weights.
    initial = torch.load(str(tmp_path / 'dist' / 'rank0_initial.pth'))
    assert any(not torch.equal(initial[key], rank0[key])
               for key in rank0 if key.startswith('decode_head.'))
    assert osp.isfile(str(tmp_path / 'dist' / 'epoch_1.pth'))
