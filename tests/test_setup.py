# Copyright (c) mmavs contributors. All rights reserved.
"""The wheel ships configs and tools the way OpenMMLab packages do."""
import os
import os.path as osp
import zipfile

import pytest

from mmavs.testing._utils import REPO_ROOT


@pytest.fixture(scope='module')
def wheel_names(built_wheel):
    with zipfile.ZipFile(built_wheel) as archive:
        return set(archive.namelist())


def test_wheel_ships_every_config(wheel_names):
    for config in ('avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-'
                   '224x224.py', '_base_/default_runtime.py',
                   'demo/avsegformer-tiny_r18_1xb8-8e_synthetic-s4-64x64.py',
                   'avsegformer/README.md'):
        assert f'mmavs/.mim/configs/{config}' in wheel_names
    shipped = {name for name in wheel_names
               if name.startswith('mmavs/.mim/configs/')}
    configs_dir = osp.join(REPO_ROOT, 'configs')
    count = sum(len([f for f in files if f.endswith('.py')])
                for _, _, files in os.walk(configs_dir))
    assert len([n for n in shipped if n.endswith('.py')]) == count


def test_wheel_ships_the_tools_mim_runs(wheel_names):
    # `mim train/test mmavs` run <package>/.mim/tools/{train,test}.py;
    # `mim run mmavs NAME` searches .mim/tools for NAME.py.
    for tool in ('train.py', 'test.py', 'dist_train.sh', 'dist_test.sh',
                 'misc/build_kernels.py', 'analysis_tools/benchmark.py',
                 'model_converters/avsegformer2mmavs.py',
                 'model_converters/release_manifests/'
                 'AVSegFormer_pvt2_avss.keys.tsv'):
        assert f'mmavs/.mim/tools/{tool}' in wheel_names
    assert not any('__pycache__' in name for name in wheel_names)
    assert not any(name.startswith('tests/') for name in wheel_names)


def test_editable_command_is_optional(monkeypatch):
    """A setuptools without PEP 660's editable_wheel (or its private
    _StaticPth) installs without the mim stubs instead of failing."""
    import importlib.util
    import sys
    spec = importlib.util.spec_from_file_location(
        'mmavs_setup', osp.join(REPO_ROOT, 'setup.py'))
    setup_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup_module)
    command = setup_module.editable_wheel_command()
    assert command is not None and command.__name__ == 'EditableWithMim'
    monkeypatch.setitem(sys.modules, 'setuptools.command.editable_wheel',
                        None)
    assert setup_module.editable_wheel_command() is None


def readme_install_commands():
    """The commands of the README's "Install next to your OpenMMLab
    stack" block, as written (comments dropped)."""
    import re
    with open(osp.join(REPO_ROOT, 'README.md'), encoding='utf-8') as file:
        section = file.read().split(
            '## Install next to your OpenMMLab stack', 1)[1]
    block = re.search(r'```bash\n(.*?)```', section, re.S).group(1)
    return [line.split('#', 1)[0].strip() for line in block.splitlines()
            if line.split('#', 1)[0].strip()]


def throwaway_env(folder):
    """A new virtual environment that sees this environment's packages
    (torch, mmcv-lite, mmseg, ...) but not mmavs, through a path file:
    the README's install runs against an OpenMMLab stack without
    downloading it again."""
    import subprocess
    import sys
    import sysconfig
    farm = folder / 'cached-packages'
    farm.mkdir()
    site = sysconfig.get_paths()['purelib']
    for name in os.listdir(site):
        if name.lower().startswith(('mmavs', '__editable__.mmavs',
                                    '_mmavs')):
            continue
        os.symlink(osp.join(site, name), farm / name)
    env = folder / 'env'
    subprocess.run([sys.executable, '-m', 'venv', str(env)], check=True)
    env_site = subprocess.run(
        [str(env / 'bin' / 'python'), '-c',
         'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        check=True, capture_output=True, text=True).stdout.strip()
    with open(osp.join(env_site, 'cached_packages.pth'), 'w') as file:
        file.write(f'import site; site.addsitedir({str(farm)!r})\n')
    return env


def test_the_readme_install_works_with_pips_defaults(tmp_path):
    """The README's install block, as written, in a new environment next
    to mmcv-lite: pip's default build isolation (where nothing installed
    is visible) must not try to build full mmcv. Then `pip install .`."""
    import shutil
    import subprocess
    commands = readme_install_commands()
    assert commands[-1] == 'pip install -e .'
    assert any('mmcv-lite' in command for command in commands)
    source = tmp_path / 'mmavs'
    shutil.copytree(
        REPO_ROOT, source,
        ignore=shutil.ignore_patterns('.git', 'work_dirs', 'build', 'dist',
                                      '*.egg-info', '__pycache__', '.mim',
                                      'data'))
    env = throwaway_env(tmp_path)
    variables = dict(os.environ, PATH=f'{env / "bin"}{os.pathsep}'
                     f'{os.environ["PATH"]}', PIP_NO_INPUT='1',
                     PIP_DISABLE_PIP_VERSION_CHECK='1')
    variables.pop('PYTHONPATH', None)

    def run(command):
        result = subprocess.run(command, shell=True, cwd=str(source),
                                env=variables, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, (command, result.stdout[-2000:],
                                        result.stderr[-3000:])
        return result.stdout

    for command in commands:
        run(command)
    where = run('python -c "import mmavs, mmcv; print(mmavs.__file__); '
                'print(mmcv.__version__)"').split()
    assert where[0] == str(source / 'mmavs' / '__init__.py')
    # A regular install too, from pip's isolated build.
    run('pip install -q .')
    where = run('cd / && python -c "import mmavs, os; '
                'print(os.path.dirname(mmavs.__file__))"').strip()
    assert where.startswith(str(tmp_path / 'env'))
    assert osp.isfile(osp.join(where, '.mim', 'configs', 'demo',
                               'avsegformer-tiny_r18_1xb8-8e_synthetic-'
                               's4-64x64.py'))
