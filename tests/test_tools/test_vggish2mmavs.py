# Copyright (c) mmavs contributors. All rights reserved.
import importlib.util
import os.path as osp
import subprocess
import sys

import pytest
import torch

from mmavs.models import VGGish
from mmavs.testing._utils import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'model_converters', 'vggish2mmavs.py')
spec = importlib.util.spec_from_file_location('vggish2mmavs', SCRIPT)
converter = importlib.util.module_from_spec(spec)
spec.loader.exec_module(converter)


def fake_torchvggish():
    """Random tensors with exactly torchvggish's names and shapes."""
    return {key: torch.randn(shape) for key, shape in
            converter.VGGISH_SHAPES.items()}


def test_converted_keys_load_strictly_and_run(tmp_path):
    src, dst = tmp_path / 'vggish-10086976.pth', tmp_path / 'out.pth'
    weights = fake_torchvggish()
    torch.save(weights, src)
    subprocess.run([sys.executable, SCRIPT, str(src), str(dst)], check=True,
                   capture_output=True)
    model = VGGish()
    state = torch.load(dst, map_location='cpu')['state_dict']
    model.load_state_dict(state, strict=True)
    torch.testing.assert_close(model.features[13].weight,
                               weights['features.13.weight'])
    assert model(torch.randn(1, 1, 96, 64)).shape == (1, 128)


def test_pca_params_and_prefixed_release_keys():
    prefixed = {f'vggish.{k}': v for k, v in fake_torchvggish().items()}
    pca = dict(pca_eigen_vectors=torch.randn(128, 128),
               pca_means=torch.randn(128))
    converted = converter.convert_vggish(prefixed, pca, prefix='vggish.')
    model = VGGish(use_pca=True)
    model.load_state_dict(converted, strict=True)
    assert converted['pca_means'].shape == (128, 1)


def test_wrong_keys_and_shapes_are_named():
    weights = fake_torchvggish()
    del weights['embeddings.4.bias']
    weights['extra.weight'] = torch.zeros(1)
    with pytest.raises(KeyError, match=r"embeddings\.4\.bias.*extra\.weight"):
        converter.convert_vggish(weights)
    weights = fake_torchvggish()
    weights['features.0.weight'] = torch.zeros(64, 1, 5, 5)
    with pytest.raises(ValueError, match=r'features\.0\.weight'):
        converter.convert_vggish(weights)
