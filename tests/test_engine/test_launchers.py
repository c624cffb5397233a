# Copyright (c) mmavs contributors. All rights reserved.
"""The command-line entry points: tools/train.py (with --resume),
tools/test.py, `mim train mmseg`, `mim train mmavs` from an installed wheel
and a 2-process distributed run."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmavs.testing import get_tiny_train_config
from mmavs.utils.checkpoint import safe_torch_load
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


def run(args, timeout=300, env=None, cwd=REPO_ROOT):
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout,
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
    show_dir = str(tmp_path / 'vis')
    result = run([
        sys.executable, 'tools/test.py', config,
        osp.join(work_dir, 'epoch_2.pth'), '--work-dir', work_dir, '--out',
        out_dir, '--show-dir', show_dir
    ])
    assert 'M_J' in result.stdout + result.stderr
    with open(osp.join(out_dir, 'per_clip_scores.json')) as f:
        clips = json.load(f)
    assert len(clips) == 2
    # --show-dir draws every test clip (one grid each), not one in 50.
    grids = glob.glob(osp.join(show_dir, '**', 'test_*.png'), recursive=True)
    assert sorted(osp.basename(g).rsplit('_', 1)[0] for g in grids) == sorted(
        f'test_{clip["clip_name"]}' for clip in clips)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs CUDA')
@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
def test_amp_training_on_cuda(synthetic_roots, tmp_path, dtype):
    """`tools/train.py --amp`: mmengine's AmpOptimWrapper trains the model
    (fp16 with loss scaling, or bf16) to a finite loss and a checkpoint."""
    config = write_config(synthetic_roots, tmp_path, max_epochs=1)
    work_dir = str(tmp_path / 'amp')
    run([sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
         '--amp', '--cfg-options', f'optim_wrapper.dtype={dtype}'])
    checkpoint = safe_torch_load(osp.join(work_dir, 'epoch_1.pth'))
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


def run_mim(args, cwd, env=None, timeout=300):
    """``mim ARGS`` from ``cwd``; its combined output."""
    result = subprocess.run(
        [sys.executable, '-m', 'mim'] + args, cwd=str(cwd),
        capture_output=True, text=True, timeout=timeout, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    return output


def check_mim_commands(synthetic_roots, tmp_path, tools_dir, env=None):
    """mim search, train, test and run of an installed mmavs whose tools
    are in ``tools_dir``, from outside any checkout."""
    output = run_mim(['search', 'mmavs', '--model', 'avsegformer'],
                     tmp_path, env)
    assert 'avsegformer_r50_1xb4-30e_avsbench-s4-224x224' in output
    config = write_config(synthetic_roots, tmp_path, max_epochs=1)
    work_dir = str(tmp_path / 'mim_work')
    output = run_mim(['train', 'mmavs', config, '--work-dir', work_dir],
                     tmp_path, env)
    assert osp.join(tools_dir, 'train.py') in output
    checkpoint = osp.join(work_dir, 'epoch_1.pth')
    assert osp.isfile(checkpoint)
    output = run_mim(['test', 'mmavs', config, '--checkpoint', checkpoint,
                      '--work-dir', work_dir], tmp_path, env)
    assert osp.join(tools_dir, 'test.py') in output and 'M_J' in output
    output = run_mim(['run', 'mmavs', 'count_params', config], tmp_path, env)
    assert 'decode_head' in output


def test_mim_with_an_installed_wheel(synthetic_roots, tmp_path, built_wheel):
    """What a user who pip-installed mmavs runs: mim finds the tools, the
    configs and the model index in the package's .mim folder, away from
    any checkout."""
    pytest.importorskip('mim')
    site = str(tmp_path / 'site')
    run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
         '--no-index', '--target', site, str(built_wheel)])
    mim_dir = osp.join(site, 'mmavs', '.mim')
    assert osp.isfile(osp.join(mim_dir, 'model-index.yml'))
    check_mim_commands(synthetic_roots, tmp_path, osp.join(mim_dir, 'tools'),
                       dict(os.environ, PYTHONPATH=site))


def editable_install():
    """The environment's editable install of mmavs: (site-packages folder,
    checkout it points to), found by pip's record of it (direct_url.json),
    not by whichever ``mmavs.egg-info`` comes first on sys.path.

    Raises:
        AssertionError: mmavs is not installed in editable mode.
    """
    from importlib.metadata import distributions
    found = []
    for dist in distributions(name='mmavs'):
        record = json.loads(dist.read_text('direct_url.json') or '{}')
        if record.get('dir_info', {}).get('editable'):
            found.append((str(dist.locate_file('')),
                          record['url'][len('file://'):]))
    assert found, ('mmavs is not installed in editable mode in this '
                   'environment; run `make env` (pip install -e .)')
    return found[0]


def test_the_editable_install_is_found_past_an_egg_info(tmp_path,
                                                        monkeypatch):
    """An ``mmavs.egg-info`` that ``setup.py develop`` left first on
    sys.path does not hide the editable install."""
    egg_info = tmp_path / 'mmavs.egg-info'
    egg_info.mkdir()
    (egg_info / 'PKG-INFO').write_text('Name: mmavs\nVersion: 0.0.0\n')
    site, _ = editable_install()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert editable_install()[0] == site != str(tmp_path)


def test_the_environment_runs_this_checkout(tmp_path):
    """`make env` installed this checkout: its mim stubs run these tools."""
    site, checkout = editable_install()
    stub = osp.join(site, 'mmavs', '.mim', 'tools', 'train.py')
    assert osp.isfile(stub), f'{stub}: the editable install has no mim stubs'
    with open(stub, encoding='utf-8') as file:
        assert repr(osp.join(REPO_ROOT, 'tools', 'train.py')) in file.read(), (
            f'the editable install in {site} runs {checkout}\'s tools; run '
            '`make env` in this checkout')


@pytest.fixture(scope='module')
def editable_site(tmp_path_factory):
    """What `pip install -e .` installs, built from a copy of the checkout
    by setuptools' PEP 660 hook (as pip does) and unpacked into a folder:
    the mim stubs and the path file. Returns (folder, copy)."""
    import shutil
    source = tmp_path_factory.mktemp('editable') / 'mmavs'
    shutil.copytree(
        REPO_ROOT, source,
        ignore=shutil.ignore_patterns('.git', 'work_dirs', 'build', 'dist',
                                      '*.egg-info', '__pycache__', '.mim',
                                      'data'))
    out = source.parent / 'wheel'
    run([sys.executable, '-c',
         'import sys; from setuptools import build_meta; '
         'build_meta.build_editable(sys.argv[1])', str(out)],
        cwd=str(source))
    (wheel, ) = out.glob('mmavs-*.whl')
    site = source.parent / 'site'
    run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps',
         '--no-index', '--target', str(site), str(wheel)])
    return site, source


def test_mim_with_the_editable_install(synthetic_roots, tmp_path,
                                       editable_site):
    """The README's `pip install -e .`: mim finds stubs in
    site-packages/mmavs/.mim that run the checkout's tools."""
    pytest.importorskip('mim')
    site, source = editable_site
    (pth, ) = site.glob('__editable__*.pth')
    assert pth.read_text().split() == [str(source)]
    tools_dir = osp.join(str(site), 'mmavs', '.mim', 'tools')
    with open(osp.join(tools_dir, 'train.py'), encoding='utf-8') as stub:
        assert repr(osp.join(str(source), 'tools', 'train.py')) in stub.read()
    # Site folders given by PYTHONPATH do not read .pth files: the
    # checkout the path file names goes there too.
    env = dict(os.environ, PYTHONPATH=f'{site}{os.pathsep}{source}')
    check_mim_commands(synthetic_roots, tmp_path, tools_dir, env)


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


@pytest.mark.parametrize('script,extra', [('slurm_train.sh', []),
                                          ('slurm_test.sh', ['ckpt.pth'])])
def test_slurm_scripts_hand_srun_the_right_job(tmp_path, script, extra):
    """No cluster here: a stand-in ``srun`` records what it was asked to
    run. The scripts must pass the partition, job name, GPU counts and the
    tool's own arguments through."""
    fake = tmp_path / 'bin' / 'srun'
    fake.parent.mkdir()
    record = tmp_path / 'srun_args.txt'
    fake.write_text(f'#!/usr/bin/env bash\nprintf "%s\\n" "$@" > {record}\n')
    fake.chmod(0o755)
    env = dict(os.environ, PATH=f'{fake.parent}:{os.environ["PATH"]}',
               GPUS='8', GPUS_PER_NODE='4')
    run(['bash', f'tools/{script}', 'gpu-part', 'job1', 'cfg.py'] + extra +
        ['--work-dir', 'wd'], env=env)
    args = record.read_text().split('\n')
    assert args[:6] == ['-p', 'gpu-part', '--job-name=job1', '--gres=gpu:4',
                        '--ntasks=8', '--ntasks-per-node=4']
    tool = osp.join('tools', script.replace('slurm_', '').replace('.sh',
                                                                  '.py'))
    start = next(i for i, arg in enumerate(args) if arg.endswith(tool))
    assert args[start + 1:start + 5 + len(extra)] == (
        ['cfg.py'] + extra + ['--launcher=slurm', '--work-dir', 'wd'])
