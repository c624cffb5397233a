# Copyright (c) mmavs contributors. All rights reserved.
"""Hand-worked checks of the pure metric functions."""
import numpy as np
import pytest
import torch

from mmavs.evaluation.functional import (binary_frame_stats, binary_iou,
                                         binary_pr_counts, binary_scores,
                                         fscore_curve, fscore_thresholds,
                                         semantic_class_scores,
                                         semantic_frame_stats)

# 4x4 frames. GT: the top-left 2x2 block (4 of 16 pixels).
GT = torch.zeros(4, 4, dtype=torch.bool)
GT[:2, :2] = True
EMPTY = torch.zeros(4, 4, dtype=torch.bool)
# F when every pixel is predicted (threshold 0 predicts prob >= 0, i.e. all):
# P = 4/16, R = 1 -> 1.3 * 0.25 / (0.3 * 0.25 + 1) = 13/43.
F_ALL = 13 / 43


def _probs(fill, **blocks):
    prob = torch.full((4, 4), float(fill))
    for (rows, cols), value in blocks.values():
        prob[rows, cols] = value
    return prob


def test_thresholds_as_released():
    th = fscore_thresholds()
    assert th.dtype == torch.float32 and th.shape == (255, )
    assert th[0] == 0
    # 1 - 1e-10 rounds to 1.0 in float32: a probability of exactly 1 is
    # still predicted positive at the last threshold.
    assert th[-1] == 1.0
    assert torch.all(th[1:] > th[:-1])


@pytest.mark.parametrize(
    'pred, gt, expected',
    [
        (GT, GT, 1.0),  # perfect
        (EMPTY, GT, 0.0),  # empty prediction, non-empty GT
        (~GT, GT, 0.0),  # disjoint
        (EMPTY, EMPTY, 1.0),  # empty GT, empty prediction: all 16 correct
        (GT, EMPTY, 12 / 16),  # empty GT, 4 wrong pixels of 16
    ])
def test_binary_iou_hand_cases(pred, gt, expected):
    assert binary_iou(pred, gt).item() == pytest.approx(expected, abs=1e-6)


def test_binary_iou_partial_and_batched():
    # prediction: top row (4 px) + (1, 0): 5 px, 3 of them in the GT block
    pred = torch.zeros(4, 4, dtype=torch.bool)
    pred[0, :] = True
    pred[1, 0] = True
    # intersection 3, union 5 + 4 - 3 = 6
    assert binary_iou(pred, GT).item() == pytest.approx(0.5, abs=1e-6)
    batch = binary_iou(
        torch.stack([pred, GT, GT]), torch.stack([GT, GT, EMPTY]))
    assert batch.shape == (3, )
    np.testing.assert_allclose(batch.numpy(), [0.5, 1.0, 0.75], atol=1e-6)
    # the release's eps: 4 / (4 + 1e-7), not exactly 1 in float64
    assert binary_iou(GT, GT).item() == 4 / (4 + 1e-7)


def test_binary_iou_valid_mask():
    valid = torch.ones(4, 4, dtype=torch.bool)
    valid[3] = False  # bottom row ignored
    pred = GT.clone()
    pred[3, 3] = True  # wrong, but ignored
    assert binary_iou(pred, GT, valid).item() == pytest.approx(1, abs=1e-6)
    # empty GT: 12 valid pixels, the prediction wrongly covers 2 of them
    pred = torch.zeros(4, 4, dtype=torch.bool)
    pred[0, :2] = True
    pred[3, :] = True
    assert binary_iou(pred, EMPTY, valid).item() == pytest.approx(
        10 / 12, abs=1e-6)


def _release_pr_counts(prob, gt):
    """The release's loop: one pass per threshold, ``prob >= t``."""
    th = fscore_thresholds()
    tp, pp = [], []
    for t in th:
        y = (prob >= t).float()
        tp.append((y * gt.float()).sum().item())
        pp.append(y.sum().item())
    return np.array(tp), np.array(pp)


def test_pr_counts_match_release_loop():
    gen = torch.Generator().manual_seed(1)
    prob = torch.rand(3, 9, 7, generator=gen)
    th = fscore_thresholds()
    # hit thresholds exactly, and the ends 0 and 1
    prob[0, 0, :5] = th[[0, 1, 100, 253, 254]]
    prob[1, 0, :3] = torch.tensor([0.0, 1.0, 0.5])
    gt = torch.rand(3, 9, 7, generator=gen) > 0.6
    tp, pp, gp = binary_pr_counts(prob, gt)
    assert tp.shape == pp.shape == (3, 255) and gp.shape == (3, )
    for n in range(3):
        ref_tp, ref_pp = _release_pr_counts(prob[n], gt[n])
        np.testing.assert_array_equal(tp[n].numpy(), ref_tp)
        np.testing.assert_array_equal(pp[n].numpy(), ref_pp)
        assert gp[n].item() == gt[n].sum().item()
        # release formula
        p = ref_tp / (ref_pp + 1e-20)
        r = ref_tp / (gt[n].sum().item() + 1e-20)
        with np.errstate(invalid='ignore'):
            ref_f = np.nan_to_num(1.3 * p * r / (0.3 * p + r))
        np.testing.assert_allclose(fscore_curve(tp[n], pp[n], gp[n]), ref_f)


def test_f_curve_hand_cases():
    perfect = binary_frame_stats(_probs(0.1, a=((slice(0, 2), ) * 2, 0.9)), GT)
    curve = perfect['f_curve'][0]
    th = fscore_thresholds().numpy()
    assert curve[0] == pytest.approx(F_ALL)
    assert np.all(curve[(th > 0.1) & (th <= 0.9)] == pytest.approx(1.0))
    assert np.all(curve[th > 0.9] == 0)
    assert curve.max() == pytest.approx(1.0)
    assert perfect['iou'][0] == pytest.approx(1, abs=1e-6)
    assert not perfect['empty_gt'][0]

    # empty prediction: only threshold 0 predicts anything (every pixel)
    empty = binary_frame_stats(torch.zeros(4, 4), GT)
    assert empty['f_curve'][0, 0] == pytest.approx(F_ALL)
    assert np.all(empty['f_curve'][0, 1:] == 0)
    assert empty['iou'][0] == 0

    # disjoint: prob 1 on the bottom-right block, 0 elsewhere
    disjoint = binary_frame_stats(_probs(0, a=((slice(2, 4), ) * 2, 1.0)), GT)
    assert disjoint['f_curve'][0, 0] == pytest.approx(F_ALL)
    assert np.all(disjoint['f_curve'][0, 1:] == 0)
    assert disjoint['iou'][0] == 0

    # partial: 0.8 on the top row, 0.6 at (1, 0), 0.2 elsewhere
    prob = _probs(0.2, a=((0, slice(None)), 0.8), b=((1, 0), 0.6))
    partial = binary_frame_stats(prob, GT)
    c = partial['f_curve'][0]
    # t <= 0.2: all 16 predicted -> 13/43
    assert np.all(c[th <= 0.2] == pytest.approx(F_ALL))
    # 0.2 < t <= 0.6: 5 predicted, TP 3: P 3/5, R 3/4 -> 0.585/0.93 = 39/62
    assert np.all(c[(th > 0.2) & (th <= 0.6)] == pytest.approx(39 / 62))
    # 0.6 < t <= 0.8: 4 predicted, TP 2: P = R = 1/2 -> 0.5
    assert np.all(c[(th > 0.6) & (th <= 0.8)] == pytest.approx(0.5))
    assert np.all(c[th > 0.8] == 0)
    assert c.max() == pytest.approx(39 / 62)
    assert partial['iou'][0] == pytest.approx(0.5, abs=1e-6)

    # empty GT: flagged; IoU by the empty-GT rule
    e1 = binary_frame_stats(torch.full((4, 4), 0.3), EMPTY)
    e2 = binary_frame_stats(_probs(0.0, a=((slice(0, 2), ) * 2, 0.7)), EMPTY)
    assert e1['empty_gt'][0] and e2['empty_gt'][0]
    assert e1['iou'][0] == pytest.approx(1, abs=1e-6)
    assert e2['iou'][0] == pytest.approx(0.75, abs=1e-6)


def test_binary_scores_modes_by_hand():
    th = fscore_thresholds().numpy()
    # three frames with step-shaped curves; frame 2 has an empty GT
    curves = np.zeros((3, 255))
    curves[0, th <= 0.5] = 0.8
    curves[1, th > 0.5] = 0.6
    curves[2, :] = 1.0  # must be ignored: empty GT
    ious = np.array([0.9, 0.3, 1.0])
    empty = np.array([False, False, True])
    m_j, m_f = binary_scores(ious, curves, empty)
    assert m_j == pytest.approx(2.2 / 3)
    assert m_f == pytest.approx(0.4)  # mean curve is 0.4 or 0.3
    # chunks of 2: [0, 1] -> J 0.6, F 0.4; [2] -> J 1.0, F 0 (only empty GT)
    r_j, r_f = binary_scores(ious, curves, empty, chunk_frames=2)
    assert r_j == pytest.approx(0.8)
    assert r_f == pytest.approx(0.2)
    # chunks of 1: F = mean(0.8, 0.6, 0)
    assert binary_scores(
        ious, curves, empty, chunk_frames=1)[1] == pytest.approx(1.4 / 3)
    # one chunk = per-frame mode
    assert binary_scores(ious, curves, empty, chunk_frames=3) == \
        pytest.approx((m_j, m_f))
    assert binary_scores(ious[2:], curves[2:], empty[2:])[1] == 0
    with pytest.raises(ValueError):
        binary_scores(ious, curves, empty, chunk_frames=0)


# Two 2x4 frames, classes 0..4 (4 never appears).
SEM_GT_A = torch.tensor([[0, 0, 1, 1], [0, 0, 2, 2]])
SEM_PRED_A = torch.tensor([[0, 1, 1, 1], [0, 0, 2, 3]])
SEM_GT_B = torch.zeros(2, 4, dtype=torch.long)
SEM_PRED_B = torch.tensor([[0, 0, 0, 0], [0, 0, 0, 2]])


def test_semantic_frame_stats_by_hand():
    iou, fscore, present = semantic_frame_stats(
        torch.stack([SEM_PRED_A, SEM_PRED_B]),
        torch.stack([SEM_GT_A, SEM_GT_B]), 5)
    # frame A: class 0 I3 P3 G4; class 1 I2 P3 G2; class 2 I1 P1 G2;
    # class 3 I0 P1 G0
    np.testing.assert_allclose(iou[0], [3 / 4, 2 / 3, 1 / 2, 0, 0])
    # F = 1.3 I / (0.3 G + P)
    np.testing.assert_allclose(fscore[0], [13 / 14, 13 / 18, 13 / 16, 0, 0])
    np.testing.assert_array_equal(present[0], [1, 1, 1, 1, 0])
    # frame B: class 0 I7 P7 G8; class 2 I0 P1 G0
    np.testing.assert_allclose(iou[1], [7 / 8, 0, 0, 0, 0])
    np.testing.assert_allclose(fscore[1], [91 / 94, 0, 0, 0, 0])
    np.testing.assert_array_equal(present[1], [1, 0, 1, 0, 0])

    class_iou, class_f = semantic_class_scores(
        iou.sum(0), fscore.sum(0), present.sum(0))
    np.testing.assert_allclose(class_iou, [13 / 16, 2 / 3, 1 / 4, 0, 0])
    np.testing.assert_allclose(
        class_f, [(13 / 14 + 91 / 94) / 2, 13 / 18, 13 / 32, 0, 0])


def test_semantic_ignore_and_range():
    gt = SEM_GT_A.clone()
    gt[1, 3] = 255  # the wrong class-3 pixel is now ignored
    iou, fscore, present = semantic_frame_stats(SEM_PRED_A, gt, 5)
    np.testing.assert_allclose(iou[0], [3 / 4, 2 / 3, 1, 0, 0])
    assert not present[0, 3]
    with pytest.raises(ValueError):
        semantic_frame_stats(SEM_PRED_A, SEM_GT_A + 3, 5)
    with pytest.raises(ValueError):
        semantic_frame_stats(SEM_PRED_A + 3, SEM_GT_A, 5)


def _release_semantic(logits, target, nclass, beta2=0.3):
    """The AVSS release's per-frame reduction (histc over 1..nclass)."""
    predict = torch.argmax(torch.softmax(logits, 1), 1) + 1
    target = target.float() + 1
    predict = predict.float() * (target > 0).float()
    intersection = predict * (predict == target).float()
    ious = torch.zeros(nclass)
    fscores = torch.zeros(nclass)
    counts = torch.zeros(nclass)
    for i in range(target.shape[0]):
        a_i = torch.histc(intersection[i], bins=nclass, min=1, max=nclass)
        a_p = torch.histc(predict[i], bins=nclass, min=1, max=nclass)
        a_l = torch.histc(target[i], bins=nclass, min=1, max=nclass)
        a_u = a_p + a_l - a_i
        ious += a_i / (2.220446049250313e-16 + a_u)
        counts[torch.nonzero(a_u).squeeze(-1)] += 1
        p, r = a_i / a_p, a_i / a_l
        f = (1 + beta2) * p * r / (beta2 * p + r)
        f[torch.isnan(f)] = 0.
        fscores += f
    return ious, fscores, counts


def test_semantic_matches_release_formulation():
    gen = torch.Generator().manual_seed(3)
    nclass = 7
    logits = torch.randn(6, nclass, 5, 6, generator=gen)
    target = torch.randint(0, nclass, (6, 5, 6), generator=gen)
    target[2] = 0  # a background-only frame, like a padded one
    ref_iou, ref_f, ref_count = _release_semantic(logits, target, nclass)
    iou, fscore, present = semantic_frame_stats(
        logits.argmax(1), target, nclass)
    np.testing.assert_allclose(iou.sum(0), ref_iou.numpy(), rtol=1e-5)
    np.testing.assert_allclose(fscore.sum(0), ref_f.numpy(), rtol=1e-5)
    np.testing.assert_array_equal(present.sum(0), ref_count.numpy())
