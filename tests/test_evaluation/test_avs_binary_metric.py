# Copyright (c) mmavs contributors. All rights reserved.
"""AVSBinaryMetric: hand-worked values in both modes and property tests."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.evaluator import Evaluator
from PIL import Image

from mmavs.evaluation import AVSBinaryMetric
from mmseg.registry import METRICS

GT = torch.zeros(4, 4, dtype=torch.long)
GT[:2, :2] = 1
EMPTY = torch.zeros(4, 4, dtype=torch.long)


def _hand_clip():
    """Six 4x4 frames with hand-worked IoU and F curves.

    ===========  ====  ====================================================
    frame        IoU   F curve over thresholds t
    ===========  ====  ====================================================
    perfect      1     13/43 (t=0), 13/43 (t<=0.1), 1 (0.1<t<=0.9), 0
    empty pred   0     13/43 (t=0), 0
    disjoint     0     13/43 (t=0), 0
    partial      1/2   13/43 (t<=0.2), 39/62 (<=0.6), 1/2 (<=0.8), 0
    empty GT     1     (left out of M_F)   empty prediction
    empty GT     3/4   (left out of M_F)   4 of 16 pixels wrongly predicted
    ===========  ====  ====================================================

    13/43 is F with every pixel predicted (P = 1/4, R = 1); threshold 0
    predicts every pixel since prob >= 0.
    """
    perfect = torch.full((4, 4), 0.1)
    perfect[:2, :2] = 0.9
    empty_pred = torch.zeros(4, 4)
    disjoint = torch.zeros(4, 4)
    disjoint[2:, 2:] = 1.0
    partial = torch.full((4, 4), 0.2)
    partial[0, :] = 0.8
    partial[1, 0] = 0.6
    empty_gt_empty = torch.full((4, 4), 0.3)
    empty_gt_pred = torch.zeros(4, 4)
    empty_gt_pred[:2, :2] = 0.7
    probs = [
        perfect, empty_pred, disjoint, partial, empty_gt_empty, empty_gt_pred
    ]
    gts = [GT, GT, GT, GT, EMPTY, EMPTY]
    return gts, probs


# mean curve over the four non-empty frames peaks on 0.2 < t <= 0.6
# at (1 + 39/62) / 4 = 101/248
HAND = {
    'per_frame': (13 / 24, 101 / 248),
    # chunks [perfect, empty pred] J 1/2 F 1/2; [disjoint, partial] J 1/4
    # F 39/124; [empty GT x 2] J 7/8, F 0 (no non-empty GT: counts as 0)
    2: (13 / 24, 101 / 372),
    # chunks [first four] J 3/8 F 101/248; [empty GT x 2] J 7/8 F 0
    4: (5 / 8, 101 / 496),
    # one chunk: the per-frame values
    10: (13 / 24, 101 / 248),
}


def _run(metric, batches, size=None):
    for batch in batches:
        metric.process({}, batch)
    return metric.evaluate(size or len(metric.results))


@pytest.mark.parametrize('b', [2, 4, 10])
def test_hand_values_both_modes(avs_frames, b):
    gts, probs = _hand_clip()
    clip = avs_frames.clip(0, gts, probs)
    for mode in ('per_frame', 'release'):
        metric = AVSBinaryMetric(mode=mode, release_batch_frames=b)
        res = _run(metric, [clip], size=1)
        per_frame_j, per_frame_f = HAND['per_frame']
        release_j, release_f = HAND[b]
        assert res['M_J'] == pytest.approx(100 * per_frame_j, abs=1e-4)
        assert res['M_F'] == pytest.approx(100 * per_frame_f, abs=1e-4)
        assert res[f'M_J_release_b{b}'] == pytest.approx(
            100 * release_j, abs=1e-4)
        assert res[f'M_F_release_b{b}'] == pytest.approx(
            100 * release_f, abs=1e-4)
        chosen = HAND['per_frame'] if mode == 'per_frame' else HAND[b]
        assert res['mIoU'] == pytest.approx(100 * chosen[0], abs=1e-4)
        assert res['F-score'] == pytest.approx(100 * chosen[1], abs=1e-4)


def test_single_frame_cases(avs_frames):
    """Perfect / empty / disjoint / partial alone give their hand values."""
    gts, probs = _hand_clip()
    expected = [(1, 1), (0, 13 / 43), (0, 13 / 43), (1 / 2, 39 / 62)]
    for i, (j, f) in enumerate(expected):
        metric = AVSBinaryMetric()
        res = _run(metric, [[avs_frames.frame(gts[i], probs[i])]])
        assert res['M_J'] == pytest.approx(100 * j, abs=1e-4)
        assert res['M_F'] == pytest.approx(100 * f, abs=1e-4)
    # a clip of only empty-GT frames: IoU by the empty-GT rule, F = 0
    metric = AVSBinaryMetric()
    res = _run(metric, [avs_frames.clip(0, gts[4:], probs[4:])])
    assert res['M_J'] == pytest.approx(100 * 7 / 8, abs=1e-4)
    assert res['M_F'] == 0


def test_registry_and_evaluator(avs_frames):
    """Built from the registry; fed SegDataSamples through Evaluator, it
    gives what the metric computes on the same frames fed directly."""
    metric = METRICS.build(dict(type='AVSBinaryMetric', mode='release'))
    assert isinstance(metric, AVSBinaryMetric)
    evaluator = Evaluator(metric)
    gts, probs = _hand_clip()
    # 2 clips, 1 clip per batch; clip 1 repeats the first frames
    clips = [(0, gts[:5], probs[:5]), (1, gts[1:], probs[1:])]
    for clip in clips:
        evaluator.process(avs_frames.clip(*clip, as_samples=True))
    res = evaluator.evaluate(2)
    direct = _run(AVSBinaryMetric(mode='release'),
                  [avs_frames.clip(*clip) for clip in clips])
    assert set(res) == set(direct) == {
        'mIoU', 'F-score', 'M_J', 'M_F', 'M_J_release_b10', 'M_F_release_b10'
    }
    for key, value in direct.items():
        assert res[key] == pytest.approx(value, abs=1e-6), key
    # By hand (see _hand_clip): IoUs 1, 0, 0, 1/2, 1 and 0, 0, 1/2, 1, 3/4;
    # the F curve of the 7 non-empty-GT frames peaks at 0.2 < t <= 0.6 at
    # (1 + 2 * 39/62) / 7 = 10/31. The 10 frames are one release batch,
    # so both modes agree.
    for key in ('mIoU', 'M_J', 'M_J_release_b10'):
        assert res[key] == pytest.approx(100 * 4.75 / 10, abs=1e-4), key
    for key in ('F-score', 'M_F', 'M_F_release_b10'):
        assert res[key] == pytest.approx(100 * 10 / 31, abs=1e-4), key


def test_unlabelled_and_padded_frames_skipped(avs_frames):
    """S4 train: only frame 0 labelled; the rest must not be scored."""
    gts, probs = _hand_clip()
    # frame 0 (perfect) labelled; frames 1-3 bad but unlabelled (255 GT)
    unlabelled = torch.full((4, 4), 255, dtype=torch.long)
    clip = avs_frames.clip(
        0, [gts[0], unlabelled, gts[1], gts[2]],
        probs[:4],
        label_flags=[True, False, False, True],
        frame_valid=[True, True, False, True])
    metric = AVSBinaryMetric()
    metric.process({}, clip)
    assert len(metric.results) == 1
    np.testing.assert_array_equal(metric.results[0]['frame_index'], [0, 3])
    res = metric.evaluate(1)
    # frames 0 (perfect) and 3 (partial prediction of the GT block):
    # J (1 + 1/2) / 2; mean curve peaks on 0.2 < t <= 0.6: (1 + 39/62) / 2
    assert res['M_J'] == pytest.approx(75, abs=1e-4)
    assert res['M_F'] == pytest.approx(100 * 101 / 124, abs=1e-4)
    # a labelled frame whose GT is all ignore is not scored either
    metric = AVSBinaryMetric()
    metric.process({}, [avs_frames.frame(unlabelled, probs[1])] +
                   [avs_frames.frame(gts[0], probs[0], frame_index=1)])
    assert metric.results[0]['iou'].shape == (1, )


def test_ignore_pixels_left_out(avs_frames):
    gt = GT.clone()
    gt[3, :] = 255
    prob = torch.zeros(4, 4)
    prob[:2, :2] = 1
    prob[3, :] = 1  # predicted, but on ignored pixels
    res = _run(AVSBinaryMetric(), [[avs_frames.frame(gt, prob)]])
    assert res['M_J'] == pytest.approx(100, abs=1e-4)


def test_prediction_inputs(avs_frames):
    gts, probs = _hand_clip()
    # pred_sem_seg only: same M_J; M_F that of a hard mask
    frames = avs_frames.clip(0, gts, probs)
    for frame in frames:
        frame.pop('seg_logits')
    res = _run(AVSBinaryMetric(), [frames])
    assert res['M_J'] == pytest.approx(100 * 13 / 24, abs=1e-4)
    # two-channel logits: softmax, channel 1 = foreground
    logit = torch.log(probs[3] / (1 - probs[3]))
    two = torch.stack([torch.zeros(4, 4), logit])
    res = _run(AVSBinaryMetric(), [[avs_frames.frame(GT, two)]])
    assert res['M_J'] == pytest.approx(50, abs=1e-4)
    assert res['M_F'] == pytest.approx(100 * 39 / 62, abs=1e-4)
    with pytest.raises(ValueError):
        AVSBinaryMetric().process({},
                                  [avs_frames.frame(GT, torch.rand(3, 4, 4))])


def test_eval_size(avs_frames):
    # prediction at 8x8, GT at 4x4: incompatible without eval_size
    prob = torch.zeros(8, 8)
    prob[:4, :4] = 1
    frame = avs_frames.frame(GT, prob)
    with pytest.raises(ValueError, match='eval_size'):
        AVSBinaryMetric().process({}, [frame])
    res = _run(AVSBinaryMetric(eval_size=(4, 4)), [[frame]])
    assert res['M_J'] == pytest.approx(100, abs=1e-4)
    # upsampling both: the 2x2 block becomes 4x4 (nearest), the
    # probabilities bilinear (0.75 / 0.25 on the border, still > 0.5 inside)
    res = _run(
        AVSBinaryMetric(eval_size=8), [[avs_frames.frame(GT, prob[::2, ::2])]])
    assert res['M_J'] == pytest.approx(100, abs=1e-4)


def test_output_dir(avs_frames, tmp_path):
    gts, probs = _hand_clip()
    metric = AVSBinaryMetric(output_dir=str(tmp_path), keep_results=True)
    _run(metric, [avs_frames.clip(0, gts, probs)])
    mask = np.array(Image.open(osp.join(tmp_path, 'clip0', '3.png')))
    expected = np.zeros((4, 4), np.uint8)
    expected[0, :] = 255
    expected[1, 0] = 255
    np.testing.assert_array_equal(mask, expected)
    rows = json.load(open(osp.join(tmp_path, 'per_clip_scores.json')))
    assert rows[0]['clip_name'] == 'clip0'
    assert rows[0]['num_scored_frames'] == 6
    assert rows[0]['num_empty_gt_frames'] == 2
    assert rows[0]['M_J'] == pytest.approx(100 * 13 / 24, abs=1e-3)
    assert rows[0]['frame_iou']['3'] == pytest.approx(50, abs=1e-3)
    assert osp.isfile(osp.join(tmp_path, 'per_clip_scores.csv'))
    # format_only: masks written, nothing computed
    fmt = AVSBinaryMetric(output_dir=str(tmp_path / 'fmt'), format_only=True)
    assert _run(fmt, [avs_frames.clip(5, gts, probs)]) == {}
    assert osp.isfile(osp.join(tmp_path, 'fmt', 'clip5', '0.png'))


def test_bad_arguments():
    with pytest.raises(ValueError):
        AVSBinaryMetric(mode='paper')
    with pytest.raises(ValueError):
        AVSBinaryMetric(release_batch_frames=0)


# ---------------------------------------------------------------------------
# property tests
# ---------------------------------------------------------------------------
def _random_clips(seed, num_clips=7, num_frames=5, size=(6, 8)):
    gen = torch.Generator().manual_seed(seed)
    clips = []
    for _ in range(num_clips):
        gts, probs = [], []
        for _ in range(num_frames):
            prob = torch.rand(size, generator=gen)
            # some saturated pixels, as sigmoid outputs have
            prob[torch.rand(size, generator=gen) < 0.1] = 0.0
            prob[torch.rand(size, generator=gen) < 0.1] = 1.0
            if torch.rand(1, generator=gen).item() < 0.3:
                gt = torch.zeros(size, dtype=torch.long)
            else:
                gt = (torch.rand(size, generator=gen) < 0.4).long()
            gts.append(gt)
            probs.append(prob)
        clips.append((gts, probs))
    return clips


def _direct_release(clips, b):
    """The releases' test loop, written out: batches of b frames in dataset
    order; per batch mean IoU (empty-GT rule, eps 1e-7) and the max of the
    F curve averaged over the batch's non-empty-GT frames (an all-zero
    curve when there is none); then the mean over batches."""
    gts = torch.stack([g.float() for gts, _ in clips for g in gts])
    probs = torch.stack([p for _, probs in clips for p in probs])
    th = torch.linspace(0, 1 - 1e-10, 255)
    batch_j, batch_f = [], []
    for start in range(0, len(gts), b):
        gt, prob = gts[start:start + b], probs[start:start + b]
        pred = (prob > 0.5).float()
        n_pix = gt.shape[-1] * gt.shape[-2]
        inter = (pred * gt).sum((1, 2))
        union = torch.max(pred, gt).sum((1, 2))
        empty = gt.sum((1, 2)) == 0
        inter[empty] = ((1 - gt) * (1 - pred)).sum((1, 2))[empty]
        union[empty] = n_pix
        batch_j.append((inter / (union + 1e-7)).double().mean().item())
        score, total, count = torch.zeros(255), 0.0, 0
        for i in range(len(gt)):
            if torch.mean(gt[i]) == 0.0:
                continue
            prec, rec = torch.zeros(255), torch.zeros(255)
            for k in range(255):
                y = (prob[i] >= th[k]).float()
                tp = (y * gt[i]).sum()
                prec[k] = tp / (y.sum() + 1e-20)
                rec[k] = tp / (gt[i].sum() + 1e-20)
            f = 1.3 * prec * rec / (0.3 * prec + rec)
            f[f != f] = 0
            total = total + f
            count += 1
            score = total / count
        batch_f.append(score.max().item())
    return 100 * np.mean(batch_j), 100 * np.mean(batch_f)


def _process_in_batches(metric,
                        clips,
                        clips_per_batch,
                        builder,
                        split_clip=False):
    """Feed the clips as a dataloader with the given batch size would;
    ``split_clip`` also cuts every batch after its third frame."""
    frames = [
        builder.clip(i, gts, probs) for i, (gts, probs) in enumerate(clips)
    ]
    for start in range(0, len(frames), clips_per_batch):
        batch = [
            f for clip in frames[start:start + clips_per_batch] for f in clip
        ]
        if split_clip:
            metric.process({}, batch[:3])
            metric.process({}, batch[3:])
        else:
            metric.process({}, batch)
    return metric.evaluate(len(clips))


@pytest.mark.parametrize('b', [1, 3, 10, 20])
def test_release_mode_equals_direct_chunks(avs_frames, b):
    clips = _random_clips(seed=b)
    res = _process_in_batches(
        AVSBinaryMetric(mode='release', release_batch_frames=b), clips, 2,
        avs_frames)
    direct_j, direct_f = _direct_release(clips, b)
    assert res['mIoU'] == pytest.approx(direct_j, abs=1e-4)
    assert res['F-score'] == pytest.approx(direct_f, abs=1e-4)
    assert res[f'M_F_release_b{b}'] == res['F-score']


def test_release_batch_size_matters_per_frame_does_not(avs_frames):
    """The released F depends on its batch size; both modes are independent
    of how mmengine's dataloader batches (and of split clips)."""
    clips = _random_clips(seed=11, num_clips=8)
    outputs = []
    for clips_per_batch, split in [(1, False), (2, False), (3, False),
                                   (8, False), (2, True)]:
        outputs.append(
            _process_in_batches(
                AVSBinaryMetric(release_batch_frames=10),
                clips,
                clips_per_batch,
                avs_frames,
                split_clip=split))
    for res in outputs[1:]:
        for key in outputs[0]:
            assert res[key] == pytest.approx(outputs[0][key], abs=1e-9)
    per_frame_f = outputs[0]['M_F']
    release_f = {
        b:
        _process_in_batches(
            AVSBinaryMetric(release_batch_frames=b), clips, 2,
            avs_frames)[f'M_F_release_b{b}']
        for b in (5, 10, 40)
    }
    assert release_f[5] != pytest.approx(release_f[10], abs=1e-3)
    # one chunk holding every frame is the per-frame mode
    assert release_f[40] == pytest.approx(per_frame_f, abs=1e-9)


def test_distributed_gathering(avs_frames):
    """Two ranks each process half of the clips; mmengine gathers the
    results (interleaved by rank); the scores equal a single process."""
    clips = _random_clips(seed=5, num_clips=6)
    single = _process_in_batches(
        AVSBinaryMetric(release_batch_frames=10), clips, 2, avs_frames)
    ranks = [AVSBinaryMetric(release_batch_frames=10) for _ in range(2)]
    for i, (gts, probs) in enumerate(clips):
        ranks[i % 2].process({}, avs_frames.clip(i, gts, probs))
    assert [len(r.results) for r in ranks] == [3, 3]
    gathered = [
        res for pair in zip(*[r.results for r in ranks]) for res in pair
    ]
    gathered = gathered[:len(clips)]  # collect_results truncates to size
    res = ranks[0].compute_metrics(gathered)
    # reversed rank order must not matter either (sorted by sample_idx)
    res_rev = ranks[0].compute_metrics(gathered[::-1])
    for key in single:
        assert res[key] == pytest.approx(single[key], abs=1e-9)
        assert res_rev[key] == pytest.approx(single[key], abs=1e-9)
