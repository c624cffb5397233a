# Copyright (c) mmavs contributors. All rights reserved.
import numpy as np
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
