# Copyright (c) mmavs contributors. All rights reserved.
import pytest
import torch

from mmavs.models import VGGish


@pytest.fixture(scope='module')
def vggish():
    torch.manual_seed(0)
    return VGGish()


def test_embeds_log_mel_examples(vggish):
    out = vggish(torch.randn(3, 1, 96, 64))
    assert out.shape == (3, 128)
    assert (out >= 0).all()  # taken after the last ReLU


def test_frozen_stays_in_eval_and_has_no_trainable_parameters(vggish):
    vggish.train()
    assert not vggish.training
    assert not any(p.requires_grad for p in vggish.parameters())
    trainable = VGGish(frozen=False)
    trainable.train()
    assert trainable.training
    assert all(p.requires_grad for p in trainable.parameters())


def test_precomputed_features_pass_through(vggish):
    feats = torch.rand(4, 128)
    assert vggish(feats) is feats


def test_bad_shape_names_the_expected_layout(vggish):
    with pytest.raises(ValueError, match=r'\[N, 1, 96, 64\]'):
        vggish(torch.randn(2, 1, 64, 96))


def test_torchvggish_layout_and_flatten_order(vggish):
    names = [name for name, _ in vggish.named_parameters()]
    assert names[:2] == ['features.0.weight', 'features.0.bias']
    assert 'features.13.weight' in names and 'embeddings.4.bias' in names
    # The first FC layer sees the conv output flattened as (H, W, C).
    x = torch.randn(1, 1, 96, 64)
    conv = vggish.features(x)
    manual = torch.relu(vggish.embeddings[0](
        conv[0].permute(1, 2, 0).reshape(1, -1)))
    hidden = vggish.embeddings[:2](conv.permute(0, 2, 3, 1).flatten(1))
    torch.testing.assert_close(hidden, manual)


def test_pca_postprocessor_quantises_to_bytes():
    model = VGGish(use_pca=True)
    out = model(torch.randn(2, 1, 96, 64))
    assert out.shape == (2, 128)
    assert out.min() >= 0 and out.max() <= 255
    assert torch.equal(out, out.round())
