# Copyright (c) mmavs contributors. All rights reserved.
import torch

from mmavs.models.losses import AVSDiceLoss


def test_binary_dice_by_hand():
    # p = sigmoid(0) = 0.5 everywhere on a 2x2 frame, two foreground pixels:
    # 1 - 2*(0.5+0.5) / (4*0.25 + 1e-3 + 2 + 1e-3)
    pred = torch.zeros(1, 1, 2, 2)
    target = torch.tensor([[[1, 1], [0, 0]]])
    expected = 1 - 2.0 / (1.0 + 2.0 + 2e-3)
    torch.testing.assert_close(
        AVSDiceLoss()(pred, target), torch.tensor(expected))


def test_ignored_pixels_do_not_count():
    pred = torch.full((1, 1, 2, 2), 10.0)
    target = torch.tensor([[[1, 1], [255, 255]]])
    loss = AVSDiceLoss()(pred, target)
    p = torch.sigmoid(torch.tensor(10.0))
    expected = 1 - 2 * 2 * p / (2 * p * p + 2 + 2e-3)
    torch.testing.assert_close(loss, expected)


def test_mean_over_frames_and_weights():
    pred = torch.stack([torch.full((1, 2, 2), 20.0),
                        torch.full((1, 2, 2), -20.0)])
    target = torch.ones(2, 2, 2, dtype=torch.long)
    loss_fn = AVSDiceLoss(loss_weight=2.0)
    per_frame = torch.tensor([1 - 8 / (8 + 2e-3), 1.0])
    torch.testing.assert_close(
        loss_fn(pred, target), 2.0 * per_frame.mean(), atol=1e-5, rtol=0)
    torch.testing.assert_close(
        loss_fn(pred, target, weight=torch.tensor([0.0, 1.0])),
        torch.tensor(2.0), atol=1e-5, rtol=0)


def test_multiclass_dice_is_perfect_for_confident_correct_logits():
    target = torch.tensor([[[0, 1], [2, 2]]])
    pred = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2) * 50.0
    loss = AVSDiceLoss()(pred.float(), target)
    assert loss < 1e-3
    assert AVSDiceLoss()(-pred.float(), target) > 0.5
