# Copyright (c) mmavs contributors. All rights reserved.
import math

import pytest
import torch
from mmseg.registry import MODELS

from mmavs.models import AVMatchingLoss

LN3 = math.log(3.0)
# The standard hand-made frame: the pooled, masked visual feature is
# [ln 3, 0] -> softmax [3/4, 1/4]; the audio [0, 0] -> softmax [1/2, 1/2].
# KL(p_a || p_v) = 1/2 ln((1/2)/(3/4)) + 1/2 ln((1/2)/(1/4)) = 1/2 ln(4/3).
KL_FRAME = 0.5 * math.log(4.0 / 3.0)


def _binary_frame():
    """One frame: logits 2x2 whose mean is 0 (-> mask 0.5 on a 1x1 level),
    visual map [2 ln 3, 0] (masked: [ln 3, 0]) and silent audio [0, 0]."""
    logits = torch.tensor([[[[2.0, 2.0], [2.0, -6.0]]]])
    visual = torch.tensor([[[[2 * LN3]], [[0.0]]]])
    audio = torch.zeros(1, 2)
    return logits, visual, audio


def test_registered_and_worked_example():
    loss = MODELS.build(dict(type='AVMatchingLoss', loss_weight=1.0))
    assert isinstance(loss, AVMatchingLoss)
    assert loss.loss_name == 'loss_av_match'
    logits, visual, audio = _binary_frame()
    value = loss(logits, [visual], [audio])
    assert value.item() == pytest.approx(KL_FRAME, rel=1e-5)
    # The direction matters: KL(p_v || p_a) = 3/4 ln(3/2) + 1/4 ln(1/2).
    reverse = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert abs(value.item() - reverse) > 1e-2


def test_binary_mask_pools_logits_before_the_sigmoid():
    # Pooling first: sigmoid(mean(2, 2, 2, -6)) = sigmoid(0) = 0.5, as in the
    # MS3 release; the other order would give (3 sigmoid(2) + sigmoid(-6))/4.
    logits, visual, audio = _binary_frame()
    value = AVMatchingLoss(loss_weight=1.0)(logits, [visual], [audio])
    assert value.item() == pytest.approx(KL_FRAME, rel=1e-5)
    # Max pooling keeps the largest logit: mask sigmoid(2).
    mask = 1 / (1 + math.exp(-2.0))
    p_v1 = 1 / (1 + math.exp(-2 * LN3 * mask))  # softmax of [2 ln3 m, 0]
    expected = 0.5 * math.log(0.5 / p_v1) + 0.5 * math.log(0.5 / (1 - p_v1))
    value = AVMatchingLoss(
        mask_pooling='max', loss_weight=1.0)(logits, [visual], [audio])
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_binary_mask_passes_gradients_to_the_logits():
    logits, visual, audio = _binary_frame()
    logits.requires_grad_(True)
    AVMatchingLoss()(logits, [visual], [audio]).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_semantic_mask_is_the_non_background_argmax():
    # 3 pixels of class 0 (background), 1 of class 1: mask 1/4 on 1x1.
    logits = torch.zeros(1, 3, 2, 2)
    logits[0, 0] = 1.0
    logits[0, 1, 1, 1] = 2.0
    visual = torch.tensor([[[[4 * LN3]], [[0.0]]]])  # masked: [ln 3, 0]
    audio = torch.zeros(1, 2)
    value = AVMatchingLoss(loss_weight=1.0)(logits, [visual], [audio])
    assert value.item() == pytest.approx(KL_FRAME, rel=1e-5)
    # The release's choice (last channel = background): every pixel counts,
    # p_v = softmax([4 ln 3, 0]) = [81/82, 1/82]:
    # KL = 1/2 ln(41/81) + 1/2 ln(41) = ln(41/9).
    value = AVMatchingLoss(
        background_index=-1, loss_weight=1.0)(logits, [visual], [audio])
    assert value.item() == pytest.approx(math.log(41 / 9), rel=1e-5)


def test_semantic_mask_has_no_gradient_path():
    logits = torch.randn(2, 3, 4, 4, requires_grad=True)
    visual = torch.randn(2, 5, 2, 2, requires_grad=True)
    AVMatchingLoss()(logits, [visual], [torch.randn(2, 5)]).backward()
    assert logits.grad is None
    assert visual.grad is not None


def test_frame_weights_and_reductions():
    logits, visual, audio = _binary_frame()
    # Frame 2 matches exactly: masked visual [ln 3, 0] and audio [ln 3, 0].
    logits = torch.cat([logits, logits])
    visual = torch.cat([visual, visual])
    audio = torch.cat([audio, torch.tensor([[LN3, 0.0]])])
    cases = {
        ('mean', (1, 1)): KL_FRAME / 2,
        ('sum', (1, 1)): KL_FRAME,
        ('mean', (1, 0)): KL_FRAME,
        ('mean', (0, 1)): 0.0,
        ('sum', (0, 1)): 0.0,
    }
    for (reduction, weight), expected in cases.items():
        loss = AVMatchingLoss(reduction=reduction, loss_weight=1.0)
        value = loss(logits, [visual], [audio], torch.tensor(weight))
        assert value.item() == pytest.approx(
            expected, abs=1e-6), (reduction, weight)
    # No weight means every frame counts.
    value = AVMatchingLoss(reduction='sum', loss_weight=1.0)(logits, [visual],
                                                             [audio])
    assert value.item() == pytest.approx(KL_FRAME, rel=1e-5)


def test_no_weighted_frame_gives_zero_with_a_graph():
    logits, visual, audio = _binary_frame()
    visual.requires_grad_(True)
    value = AVMatchingLoss()(logits, [visual], [audio], torch.zeros(1))
    assert value.item() == 0.0
    value.backward()
    assert visual.grad is not None


def test_levels_are_averaged_and_weighted():
    logits, visual, audio = _binary_frame()
    matching_audio = torch.tensor([[LN3, 0.0]])  # KL 0 on this level
    levels_visual = [visual, None, visual]
    levels_audio = [audio, None, matching_audio]
    loss = AVMatchingLoss(loss_weight=0.5)
    value = loss(logits, levels_visual, levels_audio)
    assert value.item() == pytest.approx(0.5 * KL_FRAME / 2, rel=1e-5)
    value = AVMatchingLoss(stages=[0], loss_weight=0.5)(logits, levels_visual,
                                                        levels_audio)
    assert value.item() == pytest.approx(0.5 * KL_FRAME, rel=1e-5)
    # Audio given as [B, T, C] is flattened to the N = B*T frames.
    value = loss(logits, [visual], [audio.reshape(1, 1, 2)])
    assert value.item() == pytest.approx(0.5 * KL_FRAME, rel=1e-5)


def test_threshold_mask_averages_over_the_object():
    # logit ln 3 -> sigmoid 3/4 -> above 0.5 -> the whole 1x1 level counts.
    logits = torch.full((1, 1, 1, 1), LN3)
    visual = torch.tensor([[[[LN3]], [[0.0]]]])
    audio = torch.zeros(1, 2)
    value = AVMatchingLoss(
        threshold_mask=True, loss_weight=1.0)(logits, [visual], [audio])
    assert value.item() == pytest.approx(KL_FRAME, rel=1e-4)
    # Without thresholding the mask is 3/4: softmax([3/4 ln 3, 0]).
    p_v1 = 3**0.75 / (3**0.75 + 1)
    expected = 0.5 * math.log(0.5 / p_v1) + 0.5 * math.log(0.5 / (1 - p_v1))
    value = AVMatchingLoss(loss_weight=1.0)(logits, [visual], [audio])
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_normalize_features():
    logits = torch.zeros(1, 2, 1, 1)
    logits[0, 1] = 1.0  # foreground everywhere: mask 1
    visual = torch.tensor([[[[3.0]], [[4.0]]]])
    audio = torch.tensor([[6.0, 8.0]])  # same direction as the visual
    value = AVMatchingLoss(normalize=True)(logits, [visual], [audio])
    assert value.item() == pytest.approx(0.0, abs=1e-7)
    # Unnormalised: softmax([6, 8]) vs softmax([3, 4]).
    p_a = 1 / (1 + math.exp(2.0))
    p_v = 1 / (1 + math.exp(1.0))
    expected = p_a * math.log(p_a / p_v) + (1 - p_a) * math.log(
        (1 - p_a) / (1 - p_v))
    value = AVMatchingLoss(loss_weight=1.0)(logits, [visual], [audio])
    assert value.item() == pytest.approx(expected, rel=1e-5)


def test_invalid_arguments_and_inputs():
    with pytest.raises(ValueError, match='reduction'):
        AVMatchingLoss(reduction='none')
    with pytest.raises(ValueError, match='mask_pooling'):
        AVMatchingLoss(mask_pooling='min')
    logits, visual, audio = _binary_frame()
    with pytest.raises(ValueError, match='no level'):
        AVMatchingLoss()(logits, [visual], [None])
    with pytest.raises(ValueError, match='channels'):
        AVMatchingLoss()(logits, [visual], [torch.zeros(1, 3)])
