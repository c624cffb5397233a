# Copyright (c) mmavs contributors. All rights reserved.
import pytest
import torch
from mmseg.registry import MODELS

from mmavs.testing import demo_av_batch, get_model_cfg, shrink_model_cfg

S4_R50 = 'avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-224x224.py'


@pytest.fixture(scope='module')
def model():
    torch.manual_seed(0)
    segmentor = MODELS.build(shrink_model_cfg(get_model_cfg(S4_R50)))
    segmentor.init_weights()
    return segmentor


def test_gradients_reach_every_trainable_parameter_but_not_vggish(model):
    model.train()
    inputs, samples = demo_av_batch(batch_size=2, num_frames=2)
    losses = model(inputs, samples, mode='loss')
    assert {'decode.loss_dice', 'decode.acc_seg'} <= set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    model.zero_grad()
    total.backward()
    # (ResNet zero-initialises the last BN of each block, so some
    # gradients are exactly zero at init: test that every one exists.)
    missing = [
        name for name, p in model.named_parameters()
        if p.requires_grad and p.grad is None
    ]
    assert missing == []
    assert all(p.grad is None for p in model.audio_backbone.parameters())
    assert not model.audio_backbone.training


def test_predict_returns_one_sample_per_frame_at_original_size(model):
    model.eval()
    inputs, samples = demo_av_batch(batch_size=2, num_frames=3,
                                    image_size=(64, 64))
    for sample in samples:
        sample.set_metainfo(dict(ori_shape=(48, 80)))
    with torch.no_grad():
        results = model(inputs, samples, mode='predict')
    assert len(results) == 6
    assert results[4].pred_sem_seg.shape == (48, 80)
    probs = results[4].seg_logits.data
    assert probs.min() >= 0 and probs.max() <= 1  # sigmoid applied
    assert set(results[4].pred_sem_seg.data.unique().tolist()) <= {0, 1}


def test_batch_size_one_single_frame_and_tensor_mode(model):
    model.eval()
    inputs, samples = demo_av_batch(batch_size=1, num_frames=1,
                                    audio='features')
    with torch.no_grad():
        assert model(inputs, mode='tensor').shape == (1, 1, 64, 64)
        assert len(model(inputs, mode='predict')) == 1
        assert len(model(inputs, samples, mode='predict')) == 1


def test_frames_are_processed_independently(model):
    model.eval()
    inputs, _ = demo_av_batch(batch_size=2, num_frames=2)
    with torch.no_grad():
        full = model(inputs, mode='tensor')
        first = model(
            dict(frames=inputs['frames'][:1], audio=inputs['audio'][:1]),
            mode='tensor')
    torch.testing.assert_close(full[:2], first, rtol=1e-4, atol=1e-5)


def test_mismatched_audio_is_rejected(model):
    inputs, _ = demo_av_batch(batch_size=2, num_frames=2)
    inputs['audio'] = inputs['audio'][:, :1]
    with pytest.raises(ValueError, match='does not match'):
        model(inputs, mode='tensor')


def test_skipping_unlabelled_frames_gives_the_same_head_gradients(
        model, monkeypatch):
    model.eval()  # BN statistics are the only cross-frame coupling
    # The middle frame is the labelled one, so that keeping the wrong frame
    # (e.g. the first of each clip) shows in the frames that reach the model.
    inputs, samples = demo_av_batch(batch_size=2, num_frames=3,
                                    labelled=[1])
    seen = []
    extract_feat = model.extract_feat

    def recording_extract_feat(feat_inputs):
        seen.append(feat_inputs['frames'].detach().clone())
        return extract_feat(feat_inputs)

    monkeypatch.setattr(model, 'extract_feat', recording_extract_feat)
    grads = []
    for skip in (False, True):
        model.train_cfg = dict(skip_unlabelled_frames=skip)
        model.zero_grad()
        losses = model(inputs, samples, mode='loss')
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        grads.append(model.decode_head.conv_seg.weight.grad.clone())
    model.train_cfg = dict()
    # Without skipping all 2x3 frames run; with it only the labelled frame
    # of each clip does, as a one-frame clip.
    assert [tuple(frames.shape[:2]) for frames in seen] == [(2, 3), (2, 1)]
    torch.testing.assert_close(seen[0], inputs['frames'], rtol=0, atol=0)
    torch.testing.assert_close(
        seen[1], inputs['frames'][:, 1:2], rtol=0, atol=0)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-4, atol=1e-6)


def test_padded_frames_predict_background(model):
    model.eval()
    inputs, samples = demo_av_batch(batch_size=1, num_frames=3)
    samples[2].set_metainfo(dict(frame_valid=False))
    with torch.no_grad():
        results = model(inputs, samples, mode='predict')
    assert not results[2].pred_sem_seg.data.any()
    assert torch.all(results[2].seg_logits.data == 0.5)  # sigmoid(0)


def test_a_list_of_auxiliary_heads_adds_one_loss_each():
    cfg = shrink_model_cfg(get_model_cfg(S4_R50))
    fcn = dict(
        type='FCNHead', in_channels=256, in_index=2, channels=8,
        num_convs=1, concat_input=False, num_classes=2, out_channels=1,
        threshold=0.5, norm_cfg=dict(type='BN', requires_grad=True),
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=True, loss_weight=0.4))
    cfg.auxiliary_head = [fcn, fcn]
    segmentor = MODELS.build(cfg)
    inputs, samples = demo_av_batch(batch_size=1, num_frames=2)
    losses = segmentor(inputs, samples, mode='loss')
    assert {'aux_0.loss_ce', 'aux_1.loss_ce'} <= set(losses)
    assert len(segmentor.auxiliary_heads) == 2


def test_skipping_frames_is_refused_for_temporal_models_when_built():
    cfg = shrink_model_cfg(
        get_model_cfg('avsbench/avsbench-tpavi_r50_1xb4-15e_avsbench-s4-'
                      '224x224.py'))
    cfg.train_cfg = dict(skip_unlabelled_frames=True)
    with pytest.raises(ValueError, match='temporal module'):
        MODELS.build(cfg)


def test_light_audio_encoder_trains_with_the_model():
    torch.manual_seed(0)
    cfg = shrink_model_cfg(get_model_cfg(
        'avsegformer/avsegformer_r50-lightaudio_1xb4-30e_avsbench-s4-'
        '224x224.py'))
    model = MODELS.build(cfg)
    model.init_weights()
    model.train()
    assert model.audio_backbone.training
    inputs, samples = demo_av_batch(batch_size=1, num_frames=1)
    losses = model(inputs, samples, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    grads = [p.grad for p in model.audio_backbone.parameters()]
    assert grads and all(g is not None and g.abs().sum() > 0 for g in grads)


@pytest.mark.parametrize('audio_backbone', [
    dict(type='LightAudioEncoder', out_channels=64),
    dict(type='PrecomputedAudioFeatures', in_channels=64)
])
def test_audio_width_mismatch_fails_when_built(audio_backbone):
    cfg = shrink_model_cfg(get_model_cfg(S4_R50))
    cfg.audio_backbone = audio_backbone
    with pytest.raises(ValueError, match='audio_channels=64'):
        MODELS.build(cfg)
    cfg.decode_head.audio_channels = 64
    MODELS.build(cfg)  # consistent widths build


def test_audio_width_of_tpavi_is_checked_too():
    cfg = shrink_model_cfg(get_model_cfg(
        'avsbench/avsbench-tpavi_r50-lightaudio_1xb4-30e_avsbench-ms3-'
        '224x224.py'))
    MODELS.build(cfg)
    cfg.audio_backbone.out_channels = 32
    with pytest.raises(ValueError, match=r'decode_head\.fusion\.blocks\.0'
                       r'\.audio_proj'):
        MODELS.build(cfg)
