# Copyright (c) mmavs contributors. All rights reserved.
import copy

import pytest
import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmavs.models.layers import (AttentionOnlyReformer, ChannelAttentionMixer,
                                 CrossAttentionMixer, QueryMixedReformer)

IN_CHANNELS = [8, 16, 24, 32]


def tiny_head(**overrides):
    cfg = dict(
        type='AVSegFormerHead',
        in_channels=IN_CHANNELS,
        channels=8,
        embed_dims=16,
        audio_channels=12,
        num_queries=6,
        encoder=dict(num_layers=2, layer_cfg=dict(num_heads=4,
                                                  ffn_channels=32)),
        decoder=dict(num_layers=3, layer_cfg=dict(num_heads=4,
                                                  ffn_channels=32)),
        positional_encoding=dict(num_feats=8),
        mixer=dict(type='ChannelAttentionMixer', num_heads=4),
        mask_mlp_channels=16,
        tail_hidden_channels=8,
        norm_cfg=dict(type='GN', num_groups=4),
        num_classes=2,
        out_channels=1,
        threshold=0.5,
        loss_decode=dict(type='AVSDiceLoss'))
    cfg.update(overrides)
    head = MODELS.build(cfg)
    head.init_weights()
    return head


def features(num_frames=4, size=32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    visual = [
        torch.randn(num_frames, c, size // s, size // s, generator=gen)
        for c, s in zip(IN_CHANNELS, (4, 8, 16, 32))
    ]
    audio = torch.randn(1, num_frames, 12, generator=gen)
    return visual, audio


def samples(num_frames=4, size=32, labelled=None, num_classes=2, seed=1):
    gen = torch.Generator().manual_seed(seed)
    labelled = range(num_frames) if labelled is None else labelled
    out = []
    for index in range(num_frames):
        sample = SegDataSample(
            metainfo=dict(label_flag=index in labelled,
                          img_shape=(size, size), pad_shape=(size, size)))
        data = torch.randint(0, num_classes, (1, size, size), generator=gen)
        if index not in labelled:
            data = torch.full_like(data, 255)
        sample.gt_sem_seg = PixelData(data=data)
        out.append(sample)
    return out


def test_forward_shape_and_batch_of_one():
    head = tiny_head().eval()
    visual, audio = features()
    assert head((visual, audio)).shape == (4, 1, 32, 32)
    one = head(([v[:1] for v in visual], audio[:, :1]))
    assert one.shape == (1, 1, 32, 32)
    torch.testing.assert_close(one, head((visual, audio))[:1])


def test_loss_keys_query_mixed_reformer_per_decoder_layer():
    head = tiny_head().train()
    losses = head.loss(features(), samples(), None)
    assert set(losses) == {'loss_dice', 'd0.loss_inter', 'd1.loss_inter',
                           'd2.loss_inter', 'acc_seg'}
    assert all(torch.isfinite(v) for v in losses.values())
    assert 0 <= losses['acc_seg'] <= 100


def test_unlabelled_frames_do_not_change_the_loss():
    head = tiny_head(encoder=dict(num_layers=1, layer_cfg=dict(
        num_heads=4, ffn_channels=32, dropout=0.0)), decoder=dict(
            num_layers=1, layer_cfg=dict(num_heads=4, ffn_channels=32,
                                         dropout=0.0)))
    head.eval()  # no dropout: two forwards must match exactly
    visual, audio = features()
    frames = samples(labelled=[0, 2])
    loss = head.loss((visual, audio), frames, None)
    # Change everything about frames 1 and 3: inputs and labels.
    visual2 = [v.clone() for v in visual]
    for v in visual2:
        v[1] += 3.0
        v[3] -= 2.0
    audio2 = audio.clone()
    audio2[:, 1] *= -4
    frames2 = copy.deepcopy(frames)
    for index in (1, 3):
        frames2[index].gt_sem_seg.data[:] = 1
    loss2 = head.loss((visual2, audio2), frames2, None)
    for key in loss:
        torch.testing.assert_close(loss[key], loss2[key])


def test_no_labelled_frame_gives_zero_loss_with_gradient():
    head = tiny_head().train()
    losses = head.loss(features(), samples(labelled=[]), None)
    assert float(losses['loss_dice']) == 0.0
    losses['loss_dice'].backward()
    assert head.conv_seg.weight.grad is not None


def test_switches_change_the_module_graph():
    assert isinstance(tiny_head().mixer, ChannelAttentionMixer)
    assert tiny_head(mixer=None).mixer is None
    assert isinstance(
        tiny_head(mixer=dict(type='CrossAttentionMixer', num_heads=4)).mixer,
        CrossAttentionMixer)
    assert tiny_head(use_learnable_queries=False).learnable_query is None
    assert tiny_head().learnable_query.weight.shape == (6, 16)
    head = tiny_head(num_queries=1)
    assert head.mask_mlp.layers[0].in_channels == 1
    assert isinstance(tiny_head().mask_reformer, QueryMixedReformer)
    ar = tiny_head(mask_reformer=dict(type='AttentionOnlyReformer'))
    assert isinstance(ar.mask_reformer, AttentionOnlyReformer)
    assert ar.mask_reformer.attn_proj.in_channels == 6
    none = tiny_head(mask_reformer=None)
    assert none.mask_reformer is None
    assert set(none.loss(features(), samples(), None)) == {
        'loss_dice', 'acc_seg'}
    release_aux = tiny_head(mask_reformer=None, feature_mean_aux=True)
    assert set(release_aux.loss(features(), samples(), None)) == {
        'loss_dice', 'd0.loss_inter', 'acc_seg'}
    generator = tiny_head(query_generator=dict(
        type='AttentionQueryGenerator', num_layers=1, num_heads=4,
        ffn_channels=32)).query_generator
    assert generator.query.weight.shape == (6, 16)


def swap_labels(frames, first, second):
    """A deep copy of ``frames`` whose labels ``first`` and ``second`` are
    swapped."""
    swapped = copy.deepcopy(frames)
    for frame in swapped:
        data = frame.gt_sem_seg.data
        data[:] = torch.where(data == first, second,
                              torch.where(data == second, first, data))
    return swapped


def test_semantic_head_uses_cross_entropy_and_foreground_aux():
    head = tiny_head(
        num_classes=5, out_channels=5, threshold=None,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True,
                         loss_name='loss_ce'))
    head.eval()  # no dropout: loss and forward must give the same logits
    # At init the logits are nearly uniform (loss_ce ~ log 5 whatever the
    # labels): spread them so that a wrong frame or label shows.
    with torch.no_grad():
        head.conv_seg.weight.normal_(
            std=3.0, generator=torch.Generator().manual_seed(0))
    visual, audio = features()
    frames = samples(labelled=[0, 2], num_classes=5)
    # Some ignored pixels in the labelled frames too.
    for index in (0, 2):
        frames[index].gt_sem_seg.data[:, :4] = 255
    logits = head((visual, audio))
    assert logits.shape == (4, 5, 32, 32)
    losses = head.loss((visual, audio), frames, None)
    assert set(losses) == {'loss_ce', 'd0.loss_inter', 'd1.loss_inter',
                           'd2.loss_inter', 'acc_seg'}
    # Logits and labels are both 32x32 (no resize); only the labelled
    # frames count, the ignored pixels do not (mean over the others).
    labels = torch.cat([frames[i].gt_sem_seg.data for i in (0, 2)])
    expected = F.cross_entropy(logits[[0, 2]], labels, ignore_index=255)
    torch.testing.assert_close(losses['loss_ce'], expected)

    # The intermediate masks see the foreground (label > 0) only: swapping
    # two object classes leaves them unchanged but not the class loss ...
    swapped = head.loss((visual, audio), swap_labels(frames, 1, 3), None)
    assert not torch.allclose(swapped['loss_ce'], losses['loss_ce'])
    for layer in range(3):
        key = f'd{layer}.loss_inter'
        torch.testing.assert_close(swapped[key], losses[key])
    # ... while turning an object class into background changes them.
    to_background = head.loss((visual, audio), swap_labels(frames, 0, 3),
                              None)
    assert not torch.allclose(to_background['d0.loss_inter'],
                              losses['d0.loss_inter'])


def test_audio_changes_the_prediction():
    head = tiny_head().eval()
    visual, audio = features()
    out = head((visual, audio))
    assert not torch.allclose(out, head((visual, audio + 1.0)))


def test_without_audio_queries_audio_only_reaches_through_the_mixer():
    visual, audio = features()
    louder = audio + 1.0
    queries_only = tiny_head(query_generator=None).eval()
    assert queries_only.query_generator is None
    assert not torch.allclose(queries_only((visual, audio)),
                              queries_only((visual, louder)))
    # Neither audio queries nor a mixer: the audio has no path left.
    deaf = tiny_head(query_generator=None, mixer=None).eval()
    torch.testing.assert_close(deaf((visual, audio)), deaf((visual, louder)))
    assert set(deaf.loss(features(), samples(), None)) == {
        'loss_dice', 'acc_seg', 'd0.loss_inter', 'd1.loss_inter',
        'd2.loss_inter'}
    with pytest.raises(ValueError, match='no queries'):
        tiny_head(query_generator=None, use_learnable_queries=False)


def test_wrong_level_count_is_rejected():
    with pytest.raises(ValueError, match='4 feature levels'):
        tiny_head(in_channels=[8, 16, 24])


def test_inconsistent_widths_fail_at_build_time():
    with pytest.raises(ValueError, match='num_feats must be embed_dims / 2'):
        tiny_head(positional_encoding=dict(num_feats=16))
    with pytest.raises(ValueError, match='query_generator.num_queries=4'):
        tiny_head(query_generator=dict(type='AttentionQueryGenerator',
                                       num_queries=4, num_layers=1,
                                       num_heads=4, ffn_channels=32))
