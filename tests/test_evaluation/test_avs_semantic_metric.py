# Copyright (c) mmavs contributors. All rights reserved.
"""AVSSemanticMetric: hand-worked multi-class values, frame selection."""
import json
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.evaluator import Evaluator
from PIL import Image

from mmavs.datasets.metainfo import bit_interleaved_palette
from mmavs.evaluation import AVSSemanticMetric
from mmseg.registry import METRICS

NUM_CLASSES = 5
CLASSES = ('background', 'dog', 'car', 'piano', 'violin')

# frame A: class 0 I3 P3 G4; 1 I2 P3 G2; 2 I1 P1 G2; 3 I0 P1 G0
GT_A = torch.tensor([[0, 0, 1, 1], [0, 0, 2, 2]])
PRED_A = torch.tensor([[0, 1, 1, 1], [0, 0, 2, 3]])
# frame B: class 0 I7 P7 G8; 2 I0 P1 G0
GT_B = torch.zeros(2, 4, dtype=torch.long)
PRED_B = torch.tensor([[0, 0, 0, 0], [0, 0, 0, 2]])
UNLABELLED = torch.full((2, 4), 255, dtype=torch.long)

# per frame: IoU = I / U, F = 1.3 I / (0.3 G + P)
IOU_A = [3 / 4, 2 / 3, 1 / 2, 0, 0]
F_A = [13 / 14, 13 / 18, 13 / 16, 0, 0]
IOU_B = [7 / 8, 0, 0, 0, 0]
F_B = [91 / 94, 0, 0, 0, 0]


def _logits(pred):
    """One-hot logits [C, H, W] whose argmax is ``pred``."""
    return F.one_hot(pred, NUM_CLASSES).permute(2, 0, 1).float() * 5


def _metric(**kwargs):
    metric = AVSSemanticMetric(**kwargs)
    metric.dataset_meta = dict(classes=CLASSES)
    return metric


def _expected(iou_pc, f_pc):
    iou_pc, f_pc = np.asarray(iou_pc), np.asarray(f_pc)
    return {
        'mIoU': iou_pc.mean(),
        'F-score': f_pc.mean(),
        'mIoU_noBg': iou_pc[1:].mean(),
        'F-score_noBg': f_pc[1:].mean(),
        'mIoU_noBg_release': iou_pc[:-1].mean(),
        'F-score_noBg_release': f_pc[:-1].mean(),
        'M_J': iou_pc.mean(),
        'M_F': f_pc.mean(),
    }


def _check(res, expected):
    assert set(res) == set(expected)
    for key, value in expected.items():
        assert res[key] == pytest.approx(100 * value, abs=1e-6), key


def test_multi_class_by_hand(avs_frames):
    metric = _metric()
    metric.process(
        {}, avs_frames.clip(0, [GT_A, GT_B],
                            [_logits(PRED_A), _logits(PRED_B)]))
    res = metric.evaluate(1)
    # class 0 and 2 appear in both frames, 1 and 3 in frame A only, 4 never
    iou_pc = [(3 / 4 + 7 / 8) / 2, 2 / 3, (1 / 2 + 0) / 2, 0, 0]
    f_pc = [(13 / 14 + 91 / 94) / 2, 13 / 18, (13 / 16 + 0) / 2, 0, 0]
    _check(res, _expected(iou_pc, f_pc))
    # the correct no-background mean differs from the release's here
    assert res['mIoU_noBg'] == pytest.approx(100 * (2 / 3 + 1 / 4) / 4)
    assert res['mIoU_noBg_release'] == pytest.approx(
        100 * (13 / 16 + 2 / 3 + 1 / 4) / 4)


def test_padded_and_unlabelled_frames(avs_frames):
    """Padded frames: scored against all-background GT (release) or not;
    real unlabelled frames: never."""
    frames = avs_frames.clip(
        0, [GT_A, UNLABELLED, UNLABELLED],
        [_logits(PRED_A), _logits(PRED_A),
         _logits(PRED_B)],
        label_flags=[True, False, False],
        frame_valid=[True, True, False])
    released = _metric()
    released.process({}, frames)
    # the padded frame (PRED_B vs all background) is frame B
    _check(
        released.evaluate(1),
        _expected([(3 / 4 + 7 / 8) / 2, 2 / 3, 1 / 4, 0, 0],
                  [(13 / 14 + 91 / 94) / 2, 13 / 18, 13 / 32, 0, 0]))
    real_only = _metric(score_padded_frames=False)
    real_only.process({}, frames)
    assert real_only.results[0]['num_scored_frames'] == 1
    _check(real_only.evaluate(1), _expected(IOU_A, F_A))


def test_ignore_pixels_left_out(avs_frames):
    gt = GT_A.clone()
    gt[1, 3] = 255  # the pixel wrongly predicted as class 3
    metric = _metric()
    metric.process({}, [avs_frames.frame(gt, _logits(PRED_A))])
    _check(
        metric.evaluate(1),
        _expected([3 / 4, 2 / 3, 1, 0, 0], [13 / 14, 13 / 18, 1, 0, 0]))


def test_registry_evaluator_and_gathering(avs_frames):
    metric = METRICS.build(dict(type='AVSSemanticMetric'))
    evaluator = Evaluator(metric)
    evaluator.dataset_meta = dict(classes=CLASSES)
    evaluator.process(
        avs_frames.clip(0, [GT_A], [_logits(PRED_A)], as_samples=True) +
        avs_frames.clip(1, [GT_B], [_logits(PRED_B)], as_samples=True))
    assert len(metric.results) == 2  # one result per clip
    single = evaluator.evaluate(2)
    # two "ranks", gathered results concatenated
    ranks = [_metric(), _metric()]
    ranks[0].process({}, avs_frames.clip(0, [GT_A], [_logits(PRED_A)]))
    ranks[1].process({}, avs_frames.clip(1, [GT_B], [_logits(PRED_B)]))
    gathered = ranks[1].results + ranks[0].results
    res = ranks[0].compute_metrics(gathered)
    for key in single:
        assert res[key] == pytest.approx(single[key])


def test_split_batches_invariance(avs_frames):
    gen = torch.Generator().manual_seed(0)
    clips = [
        avs_frames.clip(i, [
            torch.randint(0, NUM_CLASSES, (5, 6), generator=gen)
            for _ in range(4)
        ], [torch.randn(NUM_CLASSES, 5, 6, generator=gen) for _ in range(4)])
        for i in range(5)
    ]
    flat = [f for clip in clips for f in clip]
    outputs = []
    for step in (4, 3, 8, 20):  # 3 splits clips over process() calls
        metric = _metric()
        for start in range(0, len(flat), step):
            metric.process({}, flat[start:start + step])
        assert len(metric.results) == 5
        outputs.append(metric.evaluate(5))
    for res in outputs[1:]:
        for key in res:
            assert res[key] == pytest.approx(outputs[0][key], abs=1e-9)


def test_num_classes_sources(avs_frames):
    frame = avs_frames.frame(GT_A, _logits(PRED_A))
    # from num_classes, then from the logits' channels
    for metric in (AVSSemanticMetric(num_classes=NUM_CLASSES),
                   AVSSemanticMetric()):
        metric.process({}, [frame])
        assert metric.results[0]['count'].shape == (NUM_CLASSES, )
    metric = AVSSemanticMetric(num_classes=7)
    metric.dataset_meta = dict(classes=CLASSES)
    with pytest.raises(ValueError):
        metric.process({}, [frame])
    # pred_sem_seg only
    frame.pop('seg_logits')
    metric = _metric()
    metric.process({}, [frame])
    _check(metric.evaluate(1), _expected(IOU_A, F_A))


def test_eval_size(avs_frames):
    big_logits = _logits(PRED_A).repeat_interleave(2,
                                                   1).repeat_interleave(2, 2)
    metric = _metric(eval_size=(2, 4))
    metric.process({}, [avs_frames.frame(GT_A, big_logits)])
    _check(metric.evaluate(1), _expected(IOU_A, F_A))
    with pytest.raises(ValueError, match='eval_size'):
        _metric().process({}, [avs_frames.frame(GT_A, big_logits)])


def test_output_dir(avs_frames, tmp_path):
    # Scores only, unless masks are kept (mmseg's keep_results).
    scores_only = tmp_path / 'scores_only'
    metric = _metric(output_dir=str(scores_only))
    metric.process({}, avs_frames.clip(0, [GT_A], [_logits(PRED_A)]))
    metric.evaluate(1)
    assert osp.isfile(scores_only / 'per_clip_scores.json')
    assert not osp.exists(scores_only / 'clip0')
    metric = _metric(output_dir=str(tmp_path), keep_results=True)
    metric.process({},
                   avs_frames.clip(
                       0, [GT_A, UNLABELLED],
                       [_logits(PRED_A), _logits(PRED_B)],
                       label_flags=[True, False],
                       frame_valid=[True, False]))
    metric.evaluate(1)
    image = Image.open(osp.join(tmp_path, 'clip0', '0.png'))
    assert image.mode == 'P'
    np.testing.assert_array_equal(np.array(image), PRED_A.numpy())
    palette = np.array(image.getpalette()[:6]).reshape(2, 3)
    np.testing.assert_array_equal(palette, [[0, 0, 0], [128, 0, 0]])
    assert not osp.exists(osp.join(tmp_path, 'clip0', '1.png'))  # padded
    rows = json.load(open(osp.join(tmp_path, 'per_clip_scores.json')))
    assert rows[0]['num_scored_frames'] == 2
    assert rows[0]['classes'] == [0, 1, 2, 3]
    assert osp.isfile(osp.join(tmp_path, 'per_clip_scores.csv'))


def test_palette():
    palette = np.asarray(bit_interleaved_palette(71), np.uint8)
    assert palette.shape == (71, 3)
    # VOC colours: 1 dark red, 2 dark green, 3 olive, 7 grey, 8 dark-dark red
    np.testing.assert_array_equal(palette[[0, 1, 2, 3, 7, 8]],
                                  [[0, 0, 0], [128, 0, 0], [0, 128, 0],
                                   [128, 128, 0], [128, 128, 128], [64, 0, 0]])
    assert len({tuple(c) for c in palette}) == 71
