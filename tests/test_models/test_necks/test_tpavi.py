# Copyright (c) mmavs contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmavs.models import TPAVI, TPAVIBlock

CHANNELS = [8, 16, 24, 32]


def _inputs(batch=2, frames=3, size=16, audio_channels=128, seed=0):
    generator = torch.Generator().manual_seed(seed)
    visual = [
        torch.randn(batch * frames, c, size // 2**i, size // 2**i,
                    generator=generator) for i, c in enumerate(CHANNELS)
    ]
    audio = torch.randn(batch, frames, audio_channels, generator=generator)
    return visual, audio


def _perturb(neck):
    """Give the zero-initialised output norms non-zero affine parameters."""
    generator = torch.Generator().manual_seed(1)
    for block in neck.blocks.values():
        block.out_norm.weight.data = torch.randn(
            block.out_norm.weight.shape, generator=generator)
        block.out_norm.bias.data = torch.randn(
            block.out_norm.bias.shape, generator=generator)


def _release_dot_attention(block, x, audio):
    """The released TPAVI forward, written out with the full [THW x THW]
    affinity of the broadcast audio (one clip per batch entry).

    x: [B, C, T, H, W]; audio: [B, T, 128].
    """
    batch, channels, frames, height, width = x.shape
    a = block.audio_proj(audio)  # [B, T, C]
    a = a.permute(0, 2, 1)[..., None, None].expand(-1, -1, -1, height, width)
    frames_first = x.permute(0, 2, 1, 3, 4).reshape(-1, channels, height,
                                                    width)
    theta = block.theta(frames_first)
    g = block.g(frames_first)
    inter = theta.shape[1]

    def to_positions(t):  # [B*T, C', H, W] -> [B, T*H*W, C']
        return t.reshape(batch, frames, inter, height * width).permute(
            0, 1, 3, 2).reshape(batch, -1, inter)

    phi = F.linear(
        a.permute(0, 2, 3, 4, 1).reshape(batch, -1, channels),
        block.phi.weight, block.phi.bias)  # [B, THW, C']
    affinity = to_positions(theta) @ phi.transpose(1, 2)
    affinity = affinity / affinity.shape[-1]
    y = affinity @ to_positions(g)  # [B, THW, C']
    y = y.reshape(batch * frames, height, width, inter).permute(0, 3, 1, 2)
    z = frames_first + block.out_norm(block.out_conv(y))
    z = block.layer_norm(z.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    return z


def test_registered_neck_flags_and_shapes():
    neck = MODELS.build(
        dict(type='TPAVI', in_channels=CHANNELS, stages=(1, 3)))
    assert isinstance(neck, TPAVI)
    assert neck.takes_audio is True and neck.temporal is True
    assert sorted(neck.blocks) == ['1', '3']
    assert neck.blocks['3'].inter_channels == 16
    assert neck.blocks['3'].audio_proj.weight.shape == (32, 128)
    visual, audio = _inputs()
    outs = neck((visual, audio))
    assert isinstance(outs, tuple)
    assert [o.shape for o in outs] == [v.shape for v in visual]
    # Levels without a block pass through untouched.
    assert outs[0] is visual[0] and outs[2] is visual[2]
    assert outs[1] is not visual[1]


@pytest.mark.parametrize('train', [True, False])
def test_identity_at_initialisation_without_layer_norm(train):
    neck = TPAVI(CHANNELS, use_layer_norm=False)
    neck.init_weights()
    neck.train(train)
    visual, audio = _inputs()
    with torch.no_grad():
        outs = neck((visual, audio))
    for out, x in zip(outs, visual):
        assert torch.equal(out, x)


def test_layer_norm_only_at_initialisation_with_layer_norm():
    neck = TPAVI(CHANNELS)  # released: layer norm after the residual
    neck.init_weights()
    visual, audio = _inputs()
    with torch.no_grad():
        outs = neck((visual, audio))
    for out, x in zip(outs, visual):
        expected = F.layer_norm(x.permute(0, 2, 3, 1),
                                (x.shape[1], )).permute(0, 3, 1, 2)
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)
        assert not torch.allclose(out, x)


def test_zero_init_survives_a_parent_init_cfg():
    neck = TPAVI(
        CHANNELS,
        use_layer_norm=False,
        init_cfg=dict(type='Constant', val=1.0, bias=0.5, layer='_BatchNorm'))
    neck.init_weights()
    for block in neck.blocks.values():
        assert torch.equal(block.out_norm.weight,
                           torch.zeros_like(block.out_norm.weight))
    visual, audio = _inputs()
    with torch.no_grad():
        outs = neck((visual, audio))
    assert all(torch.equal(o, v) for o, v in zip(outs, visual))


def test_factorised_attention_equals_the_released_formula():
    block = TPAVIBlock(16)
    generator = torch.Generator().manual_seed(3)
    block.out_norm.weight.data = torch.randn(16, generator=generator)
    block.out_norm.running_mean.data = torch.randn(16,
                                                   generator=generator)
    block.eval()
    batch, frames = 2, 3
    x = torch.randn(batch * frames, 16, 5, 7)
    audio = torch.randn(batch, frames, 128)
    with torch.no_grad():
        fused, audio_proj = block(x, audio)
        clip_first = x.reshape(batch, frames, 16, 5, 7).permute(0, 2, 1, 3, 4)
        expected = _release_dot_attention(block, clip_first, audio)
    torch.testing.assert_close(fused, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(audio_proj, block.audio_proj(audio))
    # The attention branch really contributes after the perturbation.
    assert (fused - F.layer_norm(x.permute(0, 2, 3, 1), (16, )).permute(
        0, 3, 1, 2)).abs().max() > 1e-2


def test_attention_mixes_frames_of_a_clip_only():
    neck = TPAVI(CHANNELS)
    _perturb(neck)
    neck.eval()
    visual, audio = _inputs(batch=2, frames=3)
    with torch.no_grad():
        before = neck((visual, audio))
        changed = [v.clone() for v in visual]
        for level in changed:
            level[1] += 1.0  # clip 0, frame 1
        after_visual = neck((changed, audio))
        other_audio = audio.clone()
        other_audio[0, 1] += 1.0
        after_audio = neck((visual, other_audio))
    for level in range(4):
        for after in (after_visual, after_audio):
            # Frames 0 and 2 of clip 0 see frame 1 through the attention...
            assert not torch.allclose(after[level][0], before[level][0])
            assert not torch.allclose(after[level][2], before[level][2])
            # ...the frames of clip 1 do not.
            torch.testing.assert_close(after[level][3:], before[level][3:])


def test_window_frames_limits_the_attention():
    neck = TPAVI(CHANNELS, window_frames=2)
    _perturb(neck)
    neck.eval()
    visual, audio = _inputs(batch=1, frames=4)
    with torch.no_grad():
        before = neck((visual, audio))
        changed = [v.clone() for v in visual]
        for level in changed:
            level[0] += 1.0
        after = neck((changed, audio))
    for level in range(4):
        assert not torch.allclose(after[level][1], before[level][1])
        torch.testing.assert_close(after[level][2:], before[level][2:])
    # A clip no longer than the window is one window; others must divide.
    short_visual, short_audio = _inputs(batch=1, frames=1)
    assert neck((short_visual, short_audio))[0].shape == short_visual[0].shape
    odd_visual, odd_audio = _inputs(batch=1, frames=3)
    with pytest.raises(ValueError, match='window'):
        neck((odd_visual, odd_audio))


def test_fuse_returns_projected_audio_per_level():
    neck = TPAVI(CHANNELS, stages=(0, 2), audio_bias=False)
    assert neck.blocks['0'].audio_proj.bias is None
    visual, audio = _inputs(batch=2, frames=3)
    outs, audio_outs = neck.fuse(visual, audio)
    assert audio_outs[1] is None and audio_outs[3] is None
    assert audio_outs[0].shape == (6, 8) and audio_outs[2].shape == (6, 24)
    torch.testing.assert_close(
        audio_outs[2], neck.blocks['2'].audio_proj(audio).flatten(0, 1))


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError, match='stages'):
        TPAVI(CHANNELS, stages=(4, ))
    with pytest.raises(ValueError, match='stages'):
        TPAVI(CHANNELS, stages=())
    neck = TPAVI(CHANNELS)
    visual, audio = _inputs(batch=2, frames=3)
    with pytest.raises(ValueError, match=r'\[B, T, C_a\]'):
        neck((visual, audio.flatten(0, 1)))
    with pytest.raises(ValueError, match='levels'):
        neck((visual[:3], audio))
    with pytest.raises(ValueError, match='B\\*T'):
        neck((visual, audio[:, :2]))
