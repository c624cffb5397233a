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
