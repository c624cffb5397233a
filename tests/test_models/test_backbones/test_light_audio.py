# Copyright (c) mmavs contributors. All rights reserved.
import pytest
import torch
from mmseg.registry import MODELS

from mmavs.models import LightAudioEncoder, PrecomputedAudioFeatures


def _num_params(module):
    return sum(p.numel() for p in module.parameters())


def test_embeds_log_mel_examples_like_vggish():
    torch.manual_seed(0)
    encoder = MODELS.build(dict(type='LightAudioEncoder'))
    out = encoder(torch.randn(6, 1, 96, 64))
    assert out.shape == (6, 128)
    assert encoder.out_channels == 128
    # A few hundred thousand parameters, all trainable (VGGish: 72M frozen).
    assert _num_params(encoder) == 250912  # as documented
    assert all(p.requires_grad for p in encoder.parameters())


def test_out_channels_and_widths_are_configurable():
    encoder = LightAudioEncoder(channels=(8, 16), out_channels=40)
    assert encoder(torch.randn(2, 1, 96, 64)).shape == (2, 40)
    # Two blocks leave 64 / 4 = 16 mel positions of 16 channels.
    assert encoder.proj.in_features == 16 * 16


def test_freq_pooling_keeps_finer_mel_bands():
    encoder = LightAudioEncoder(freq_pooling=(2, 2, 1, 1))
    # Time is still halved 4 times (96 -> 6); frequency only twice
    # (64 -> 16 bands of 4 mel bins), so the Linear layer sees 16 bands.
    assert encoder.blocks(torch.zeros(1, 1, 96, 64)).shape == (1, 128, 6, 16)
    assert encoder.proj.in_features == 128 * 16
    assert _num_params(encoder) == 447520  # as documented
    assert encoder(torch.randn(2, 1, 96, 64)).shape == (2, 128)


@pytest.mark.parametrize('freq_pooling', [(2, 2, 1), (2, 2, 1, 3), (0, ) * 4])
def test_freq_pooling_is_checked(freq_pooling):
    with pytest.raises(ValueError, match='freq_pooling'):
        LightAudioEncoder(freq_pooling=freq_pooling)


def test_gradients_reach_every_parameter_with_one_example():
    torch.manual_seed(0)
    encoder = LightAudioEncoder()
    encoder.train()
    assert encoder.training
    encoder(torch.randn(1, 1, 96, 64)).pow(2).sum().backward()
    for name, param in encoder.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_tells_tones_apart_by_frequency_band():
    # Two log-mel examples with the energy in different mel bands give
    # different features: frequency is not pooled away.
    encoder = LightAudioEncoder().eval()
    low = torch.full((1, 1, 96, 64), -4.6)
    high = low.clone()
    low[..., 10] = 2.0
    high[..., 50] = 2.0
    with torch.no_grad():
        gap = (encoder(low) - encoder(high)).norm()
    assert gap > 1e-2


@pytest.mark.parametrize('shape', [(2, 128), (2, 1, 64, 96), (2, 96, 64)])
def test_refuses_anything_but_log_mel_examples(shape):
    with pytest.raises(ValueError, match=r'\[N, 1, 96, 64\]'):
        LightAudioEncoder()(torch.randn(*shape))


def test_channels_must_halve_the_example_evenly():
    with pytest.raises(ValueError, match='evenly'):
        LightAudioEncoder(channels=(4, 4, 4, 4, 4, 4))


def test_precomputed_features_pass_through_checked():
    backbone = MODELS.build(
        dict(type='PrecomputedAudioFeatures', in_channels=16))
    feats = torch.rand(3, 16)
    assert backbone(feats) is feats
    assert backbone.out_channels == 16 and _num_params(backbone) == 0
    with pytest.raises(ValueError, match=r'\[N, 16\]'):
        backbone(torch.rand(3, 128))
    with pytest.raises(ValueError, match='log-mel'):
        PrecomputedAudioFeatures()(torch.randn(3, 1, 96, 64))
