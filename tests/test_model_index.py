# Copyright (c) mmavs contributors. All rights reserved.
"""The model index: complete, up to date with the configs, and what name
lookup, ``list_models`` and ``mmavs::`` config inheritance read."""
import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config

from mmavs.apis import AVSInferencer
from mmavs.apis.inferencer import find_config
from mmavs.apis.inferencer.configs import indexed_models
from mmavs.testing._utils import REPO_ROOT


def load_generator():
    path = osp.join(REPO_ROOT, 'tools', 'misc', 'update_model_index.py')
    spec = importlib.util.spec_from_file_location('update_model_index', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_index_files_are_up_to_date():
    """Run `python tools/misc/update_model_index.py` after changing a
    config or a published number."""
    generator = load_generator()
    stale = [
        path for path, content in generator.generate().items()
        if not osp.isfile(osp.join(REPO_ROOT, path))
        or open(osp.join(REPO_ROOT, path), encoding='utf-8').read() != content
    ]
    assert stale == []


def test_a_new_config_folder_needs_a_collection(monkeypatch):
    generator = load_generator()
    shipped = generator.shipped_configs()
    monkeypatch.setattr(generator, 'shipped_configs',
                        lambda: shipped + ['configs/newmodel/newmodel.py'])
    with pytest.raises(ValueError, match='configs/newmodel: no entry in '
                       'COLLECTIONS of tools/misc/update_model_index.py'):
        generator.generate()


def test_every_shipped_config_is_indexed_once():
    generator = load_generator()
    configs = [model['Config'] for model in indexed_models()]
    assert sorted(configs) == sorted(generator.shipped_configs())
    assert len(set(configs)) == len(configs)


def test_published_numbers_and_release_conversion():
    models = {model['Name']: model for model in indexed_models()}
    paper = models['avsegformer_pvtv2-b5_1xb4-30e_avsbench-s4-224x224']
    assert paper['Results'][0]['Metrics'] == dict(M_J=82.06, M_F=89.9)
    assert paper['Metadata']['Input Size'] == '224x224'
    assert paper['Metadata']['Task'] == 'S4'
    avss = models['avsegformer_r50_1xb4-30e_avsbench-avss-224x224']
    assert avss['Results'][0]['Metrics'] == dict(mIoU=24.93, F=29.3)
    release = models['avsegformer-release_pvtv2-b5_1xb2-30e_avsbench-s4-'
                     '512x512']
    assert release['Metadata']['Input Size'] == '512x512'
    assert release['Metadata']['Batch Size'] == 2
    assert 'avsegformer2mmavs.py AVSegFormer_pvt2_s4.pth' in release[
        'Converted From']['Conversion']
    demo = models['avsegformer-tiny_r18_1xb8-8e_synthetic-s4-64x64']
    assert demo['Metadata']['Training Data'] == 'synthetic AVSBench-S4'
    assert 'Results' not in demo


def test_names_resolve_through_the_index():
    path = find_config('avsegformer_r50_1xb4-30e_avsbench-s4-224x224')
    assert path == osp.join(REPO_ROOT, 'configs', 'avsegformer',
                            'avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py')
    assert find_config('avsbench/avsbench-tpavi_r50_1xb4-15e_avsbench-s4-'
                       '224x224.py').endswith('224x224.py')
    with pytest.raises(ValueError, match='did you mean avsegformer_r50_1xb4'):
        find_config('avsegformer_r50_1xb4-30e_avsbench-s4')


def test_list_models_and_mmavs_config_prefix():
    names = AVSInferencer.list_models('mmavs')
    assert 'avsegformer_r50_1xb4-60e_avsbench-ms3-224x224' in names
    assert len(names) == len(indexed_models())
    cfg = Config.fromstring(
        "_base_ = 'mmavs::avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-"
        "224x224.py'", '.py')
    assert cfg.model.decode_head.type == 'AVSegFormerHead'
