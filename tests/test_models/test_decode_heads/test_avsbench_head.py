# Copyright (c) mmavs contributors. All rights reserved.
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmavs.models import AVMatchingLoss, AVSBenchHead, TPAVI
from mmavs.models.decode_heads.avsbench_head import ResidualConvUnit
from mmavs.testing import demo_av_batch

CHANNELS = [8, 16, 24, 32]


def _head(**kwargs):
    cfg = dict(
        type='AVSBenchHead',
        in_channels=CHANNELS,
        feat_channels=16,
        hidden_channels=12,
        channels=8,
        fusion=dict(type='TPAVI'),
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=True, avg_non_ignore=True,
            loss_name='loss_bce'))
    cfg.update(kwargs)
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _feats(batch=2, frames=3, size=32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    visual = [
        torch.randn(batch * frames, c, size // 4 // 2**i, size // 4 // 2**i,
                    generator=generator) for i, c in enumerate(CHANNELS)
    ]
    return visual, torch.randn(batch, frames, 128, generator=generator)


def test_structure_follows_the_release():
    head = _head(feat_channels=256, hidden_channels=128, channels=32)
    assert isinstance(head, AVSBenchHead) and head.takes_audio
    assert head.temporal is True
    level = head.level_convs[3]
    assert [(b.in_channels, b.out_channels, b.dilation, b.padding)
            for b in level.branches] == [(32, 256, (d, d), (d, d))
                                         for d in (3, 6, 12, 18)]
    assert level.branches[0].weight.std().item() == pytest.approx(
        0.01, rel=0.1)
    assert isinstance(head.fusion, TPAVI)
    assert head.fusion.in_channels == [256] * 4
    assert head.fusion.blocks['0'].inter_channels == 128
    assert [(c.in_channels, c.out_channels)
            for c in head.output_convs] == [(256, 128), (128, 32)]
    assert head.conv_seg.in_channels == 32 and head.conv_seg.out_channels == 1
    assert head.dropout is None
    with pytest.raises(ValueError, match='in_channels'):
        _head(fusion=dict(type='TPAVI', in_channels=CHANNELS))
    with pytest.raises(ValueError, match='fusion'):
        _head(fusion=None, loss_av_match=dict(type='AVMatchingLoss'))


def test_output_is_at_four_times_the_finest_level():
    head = _head(out_channels=3, num_classes=3, threshold=None)
    visual, audio = _feats(size=32)
    assert head((visual, audio)).shape == (6, 3, 32, 32)
    # Odd sizes: each fusion block upsamples to the next level's size.
    visual = [torch.randn(2, c, s, s) for c, s in zip(CHANNELS, (13, 7, 4, 2))]
    assert head((visual, torch.randn(1, 2, 128))).shape == (2, 3, 52, 52)


def test_residual_unit_adds_the_rectified_input():
    unit = ResidualConvUnit(2)
    for conv in (unit.conv1, unit.conv2):
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.zeros_(conv.bias)
    x = torch.tensor([[[[-1.0, 2.0]], [[3.0, -4.0]]]])
    torch.testing.assert_close(unit(x), F.relu(x))


def test_without_fusion_frames_are_independent_and_audio_is_unused():
    head = _head(fusion=None)
    assert head.temporal is False
    head.eval()
    visual, audio = _feats()
    with torch.no_grad():
        full = head((visual, None))
        torch.testing.assert_close(head((visual, audio)), full)
        first = head(([v[:1] for v in visual], None))
    torch.testing.assert_close(full[:1], first, rtol=1e-4, atol=1e-5)


def test_fusion_mixes_the_frames_of_a_clip():
    head = _head()
    for block in head.fusion.blocks.values():
        torch.nn.init.ones_(block.out_norm.weight)
    head.eval()
    visual, audio = _feats(batch=2, frames=3)
    other = audio.clone()
    other[0, 2] += 1.0
    with torch.no_grad():
        before = head((visual, audio))
        after = head((visual, other))
    assert not torch.allclose(before[0], after[0])
    torch.testing.assert_close(before[3:], after[3:])


def test_loss_skips_unlabelled_frames():
    head = _head()
    visual, audio = _feats(batch=2, frames=3, size=32)
    _, samples = demo_av_batch(batch_size=2, num_frames=3,
                               image_size=(32, 32), labelled=[0])
    losses = head.loss((visual, audio), samples, {})
    assert set(losses) == {'loss_bce', 'acc_seg'}
    # Unlabelled frames that still carry a (wrong) mask change nothing.
    for sample in samples:
        if not sample.metainfo['label_flag']:
            sample.gt_sem_seg.data[:] = 1
    again = head.loss((visual, audio), samples, {})
    torch.testing.assert_close(again['loss_bce'], losses['loss_bce'])
    # Same value as mmseg's BCE on the labelled frames alone.
    logits = head((visual, audio))[[0, 3]]
    label = torch.cat([samples[i].gt_sem_seg.data for i in (0, 3)]).float()
    expected = F.binary_cross_entropy_with_logits(logits[:, 0], label)
    torch.testing.assert_close(losses['loss_bce'], expected)


def test_matching_loss_reads_the_rectified_fused_maps():
    head = _head(loss_av_match=dict(type='AVMatchingLoss', loss_weight=0.5))
    for block in head.fusion.blocks.values():
        torch.nn.init.normal_(block.out_norm.weight)
    visual, audio = _feats(batch=2, frames=3, size=32)
    _, samples = demo_av_batch(batch_size=2, num_frames=3,
                               image_size=(32, 32), labelled=[0, 2])
    losses = head.loss((visual, audio), samples, {})
    assert set(losses) == {'loss_bce', 'loss_av_match', 'acc_seg'}
    seg_logits, fused, audio_levels = head._decode((visual, audio))
    assert all(a.shape == (6, 16) for a in audio_levels)
    flags = torch.tensor([1., 0., 1., 1., 0., 1.])
    expected = AVMatchingLoss(loss_weight=0.5)(
        seg_logits, [F.relu(m) for m in fused], audio_levels, flags)
    torch.testing.assert_close(losses['loss_av_match'], expected)
    unrectified = AVMatchingLoss(loss_weight=0.5)(seg_logits, fused,
                                                  audio_levels, flags)
    assert not torch.allclose(unrectified, expected)


def test_every_parameter_gets_a_gradient_and_no_label_keeps_the_graph():
    head = _head(loss_av_match=dict(type='AVMatchingLoss'))
    visual, audio = _feats(batch=1, frames=2, size=32)
    _, samples = demo_av_batch(batch_size=1, num_frames=2,
                               image_size=(32, 32))
    losses = head.loss((visual, audio), samples, {})
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    missing = [n for n, p in head.named_parameters() if p.grad is None]
    assert missing == []
    head.zero_grad(set_to_none=True)
    _, samples = demo_av_batch(batch_size=1, num_frames=2,
                               image_size=(32, 32), labelled=[])
    losses = head.loss((visual, audio), samples, {})
    assert losses['loss_bce'].item() == 0.0
    assert losses['loss_av_match'].item() == 0.0
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert head.conv_seg.weight.grad is not None


def test_semantic_loss_and_predict():
    head = _head(num_classes=4, out_channels=4, threshold=None,
                 loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True,
                                  loss_name='loss_ce'))
    head.eval()  # no dropout: loss, forward and predict see the same logits
    # Spread the nearly uniform initial logits, so that a wrong frame or
    # label changes the loss by more than rounding.
    with torch.no_grad():
        head.conv_seg.weight.normal_(
            std=3.0, generator=torch.Generator().manual_seed(0))
    visual, audio = _feats(batch=1, frames=2, size=32)
    _, samples = demo_av_batch(batch_size=1, num_frames=2,
                               image_size=(32, 32), num_classes=4,
                               labelled=[1])
    samples[1].gt_sem_seg.data[:, :5] = 255  # ignored pixels
    losses = head.loss((visual, audio), samples, {})
    assert set(losses) == {'loss_ce', 'acc_seg'}
    # The logits are already at the label size (32x32): the loss is the
    # plain cross entropy of the labelled frame, averaged over the pixels
    # that are not ignored.
    logits = head((visual, audio))
    assert logits.shape == (2, 4, 32, 32)
    expected = F.cross_entropy(logits[[1]], samples[1].gt_sem_seg.data,
                               ignore_index=255)
    torch.testing.assert_close(losses['loss_ce'], expected)
    # predict returns forward's logits resized to the padded input size:
    # unchanged at 32x32, bilinearly resized at another size.
    metas = [dict(img_shape=(32, 32), pad_shape=(32, 32))] * 2
    predicted = head.predict((visual, audio), metas, dict(mode='whole'))
    torch.testing.assert_close(predicted, logits)
    metas = [dict(img_shape=(40, 48), pad_shape=(40, 48))] * 2
    predicted = head.predict((visual, audio), metas, dict(mode='whole'))
    torch.testing.assert_close(
        predicted, F.interpolate(logits, size=(40, 48), mode='bilinear',
                                 align_corners=False))


def test_inconsistent_fusion_settings_fail_when_built():
    with pytest.raises(ValueError, match=r'stages \[3\] must be among'):
        _head(fusion=dict(type='TPAVI', stages=(0, 1)),
              loss_av_match=dict(type='AVMatchingLoss', stages=(3, )))

    class FusionWithoutFuse(torch.nn.Module):

        def __init__(self, in_channels):
            super().__init__()

    MODELS.register_module(module=FusionWithoutFuse, force=True)
    with pytest.raises(ValueError, match='has no fuse'):
        _head(fusion=dict(type='FusionWithoutFuse'))
