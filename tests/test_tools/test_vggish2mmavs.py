# Copyright (c) mmavs contributors. All rights reserved.
import collections
import importlib.util
import io
import os.path as osp
import subprocess
import sys

import numpy as np

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
    weights = fake_torchvggish()
    prefixed = {f'vggish.{k}': v for k, v in weights.items()}
    # torchvggish's PCA file holds float64 numpy arrays, means as [128].
    generator = np.random.default_rng(0)
    pca = dict(pca_eigen_vectors=generator.standard_normal((128, 128)),
               pca_means=generator.standard_normal(128))
    converted = converter.convert_vggish(prefixed, pca, prefix='vggish.')
    assert list(converted) == list(converter.VGGISH_SHAPES) + [
        'pca_eigen_vectors', 'pca_means']
    # Every weight is the source tensor under its unprefixed name.
    for key, value in weights.items():
        torch.testing.assert_close(converted[key], value, rtol=0, atol=0)
    # The PCA parameters are the source values as float32, the means a
    # column vector (what VGGish.postprocess subtracts from [128, N]).
    torch.testing.assert_close(
        converted['pca_eigen_vectors'],
        torch.from_numpy(pca['pca_eigen_vectors']).float(), rtol=0, atol=0)
    assert converted['pca_means'].shape == (128, 1)
    torch.testing.assert_close(
        converted['pca_means'][:, 0],
        torch.from_numpy(pca['pca_means']).float(), rtol=0, atol=0)
    model = VGGish(use_pca=True)
    model.load_state_dict(converted, strict=True)
    torch.testing.assert_close(model.features[0].weight,
                               weights['features.0.weight'])
    torch.testing.assert_close(model.pca_means, converted['pca_means'])


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


def test_numpy1_pca_file_loads_safely(tmp_path):
    """torchvggish's PCA file holds numpy arrays pickled by numpy 1.x
    (``numpy.core.multiarray._reconstruct``): weights_only loading takes
    them, no unsafe flag needed."""
    src, dst = tmp_path / 'vggish.pth', tmp_path / 'out.pth'
    torch.save(fake_torchvggish(), src)
    buffer = io.BytesIO()
    torch.save(dict(pca_eigen_vectors=np.eye(128), pca_means=np.ones(128)),
               buffer, _use_new_zipfile_serialization=False)
    pca = tmp_path / 'vggish_pca_params.pth'
    # What numpy 1.x writes for the same arrays (numpy 2 says _core).
    pca.write_bytes(buffer.getvalue().replace(b'numpy._core.multiarray',
                                              b'numpy.core.multiarray'))
    assert converter.main([str(src), str(dst), '--pca', str(pca)]) == 0
    converted = torch.load(dst, weights_only=True)['state_dict']
    torch.testing.assert_close(converted['pca_means'], torch.ones(128, 1))


def test_unsafe_load_is_explicit(tmp_path, capsys):
    """A source weights_only loading refuses (here a defaultdict) fails,
    naming the file; ``--unsafe-load`` unpickles it (trusted files only)."""
    src, dst = tmp_path / 'vggish.pth', tmp_path / 'out.pth'
    torch.save(collections.defaultdict(int, fake_torchvggish()), src)
    assert converter.main([str(src), str(dst)]) == 1
    err = capsys.readouterr().err
    assert f'error: {src}: refused: it refers to collections.defaultdict' \
        in err
    assert 'unsafe' not in err.replace(str(src), '') and not dst.exists()
    with pytest.warns(UserWarning, match=r'unpickling it fully .*'
                      '--unsafe-load'):
        assert converter.main([str(src), str(dst), '--unsafe-load']) == 0
    assert len(torch.load(dst, weights_only=True)['state_dict']) == 18
