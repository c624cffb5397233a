# Copyright (c) mmavs contributors. All rights reserved.
import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmavs.engine.hooks.visualization_hook import group_clips
from mmavs.visualization import AVSLocalVisualizer, overlay_mask


def test_overlay_colours_only_labelled_pixels():
    image = np.full((4, 4, 3), 100, np.uint8)
    label = np.zeros((4, 4))
    label[1:3, 1:3] = 1.0  # mmseg's binary predictions are floats
    label[0, 0] = 255
    out = overlay_mask(image, label, [(0, 0, 0), (255, 0, 0)], alpha=0.5)
    assert (out[3, 3] == 100).all() and (out[0, 0] == 100).all()
    assert out[1, 1, 0] > 100 and out[1, 1, 2] < 100


def test_draw_clip_grid_layout(tmp_path):
    visualizer = AVSLocalVisualizer(
        name='test_avs_vis', save_dir=str(tmp_path), min_size=16)
    visualizer.dataset_meta = dict(classes=('background', 'foreground'),
                                   palette=[[0, 0, 0], [255, 255, 255]])
    frames = [np.zeros((8, 10, 3), np.uint8) for _ in range(3)]
    samples = []
    for index in range(3):
        sample = SegDataSample(metainfo=dict(sample_idx=0))
        sample.gt_sem_seg = PixelData(data=torch.ones(1, 8, 10).long())
        sample.pred_sem_seg = PixelData(data=torch.zeros(1, 8, 10))
        samples.append(sample)
    out_file = str(tmp_path / 'clip.png')
    grid = visualizer.add_clip('clip', frames, samples, out_file=out_file)
    # 3 rows (frames, GT, prediction), frames enlarged x2 to reach 16 px.
    assert grid.shape == (3 * 16, 3 * 20, 3)
    assert grid[16:32].any() and not grid[32:].any()
    assert (tmp_path / 'clip.png').is_file()


def test_group_clips_by_sample_index():
    samples = [SegDataSample(metainfo=dict(sample_idx=i // 2))
               for i in range(6)]
    assert [len(c) for c in group_clips(samples)] == [2, 2, 2]


def test_clips_reach_a_tensorboard_backend(tmp_path):
    import glob
    import pytest
    pytest.importorskip('tensorboard')
    visualizer = AVSLocalVisualizer(
        name='test_avs_tb', save_dir=str(tmp_path),
        vis_backends=[dict(type='TensorboardVisBackend')])
    sample = SegDataSample()
    sample.pred_sem_seg = PixelData(data=torch.ones(1, 8, 8))
    visualizer.add_clip('clip', [np.zeros((8, 8, 3), np.uint8)], [sample])
    visualizer.close()
    assert glob.glob(str(tmp_path / '**' / 'events.out.tfevents.*'),
                     recursive=True)


def test_padded_frames_take_the_size_of_the_real_frames(tmp_path):
    import cv2

    from mmavs.engine.hooks.visualization_hook import read_frames
    path = str(tmp_path / 'frame.png')
    cv2.imwrite(path, np.zeros((9, 16, 3), np.uint8))
    real = SegDataSample(metainfo=dict(img_path=path, ori_shape=(56, 56)))
    padded = SegDataSample(metainfo=dict(img_path=None, frame_valid=False,
                                         ori_shape=(56, 56)))
    frames = read_frames([real, padded])
    assert [f.shape for f in frames] == [(9, 16, 3), (9, 16, 3)]


def test_hook_draws_every_test_clip_and_every_interval_val_batch(
        tmp_path, monkeypatch):
    """As mmseg's hook: validation every ``interval`` batches, test every
    batch and (``max_clips=None``) every clip; ``show`` shows each grid."""
    from types import SimpleNamespace

    import pytest

    from mmavs.engine.hooks import AVSVisualizationHook
    visualizer = AVSLocalVisualizer(
        name='test_avs_hook', save_dir=str(tmp_path), min_size=8)
    drawn, shown = [], []
    monkeypatch.setattr(visualizer, 'add_clip',
                        lambda name, *args, **kwargs: drawn.append(name) or
                        np.zeros((8, 8, 3), np.uint8))
    monkeypatch.setattr(visualizer, 'show',
                        lambda grid, win_name, wait_time: shown.append(
                            (win_name, wait_time)))
    runner = SimpleNamespace(visualizer=visualizer, work_dir=str(tmp_path),
                             epoch=1)
    outputs = [
        SegDataSample(metainfo=dict(sample_idx=i // 2, clip_name=f'c{i//2}',
                                    frame_valid=False, ori_shape=(8, 8)))
        for i in range(6)
    ]
    hook = AVSVisualizationHook(draw=True, interval=50, show=True,
                                wait_time=0.5)
    hook.after_val_iter(runner, 3, outputs=outputs)
    assert drawn == []  # not a multiple of the interval
    hook.after_test_iter(runner, 3, outputs=outputs)
    assert drawn == ['test_c0', 'test_c1', 'test_c2']
    assert shown == [('test_c0', 0.5), ('test_c1', 0.5), ('test_c2', 0.5)]
    hook.after_val_iter(runner, 50, outputs=outputs)
    assert drawn[3:] == ['val_c0', 'val_c1', 'val_c2']
    # Windows need a display: a clear error, not a crash.
    from mmavs.visualization import check_display
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    with pytest.raises(RuntimeError, match='no DISPLAY is set'):
        check_display(opencv=False)


def test_mask_painter_draws_what_overlay_mask_draws():
    import cv2

    from mmavs.visualization import MaskPainter, overlay_mask
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)  # BGR
    mask = np.zeros((40, 50), np.uint8)
    mask[5:20, 10:30] = 1
    mask[25:35, 5:15] = 3
    palette = [[0, 0, 0], [255, 0, 255], [0, 0, 0], [30, 200, 60]]
    expected = overlay_mask(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), mask,
                            palette, 0.4)
    painter = MaskPainter(mask, palette, 0.4, 'bgr')
    drawn = cv2.cvtColor(painter.draw(frame), cv2.COLOR_BGR2RGB)
    # OpenCV rounds where overlay_mask truncates: one grey level at most.
    assert np.abs(drawn.astype(int) - expected).max() <= 1
    assert (drawn != cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)).any()
    rgb = MaskPainter(mask, palette, 0.4, 'rgb').draw(
        cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    np.testing.assert_array_equal(rgb, drawn)
    # The frame is not changed; nothing to draw gives a copy.
    empty = MaskPainter(np.zeros((40, 50), np.uint8), palette)
    copy = empty.draw(frame)
    assert copy is not frame and (copy == frame).all()
    with pytest.raises(ValueError, match=r'the frame is \(4, 5\)'):
        painter.draw(frame[:4, :5])
