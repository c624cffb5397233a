# Copyright (c) mmavs contributors. All rights reserved.
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

from mmavs.models import AVSDataPreProcessor
from mmavs.structures import ClipDataSample


def clip(num_frames, height, width, value, label_flags):
    frames = torch.full((num_frames, 3, height, width), value,
                        dtype=torch.uint8)
    frames[:, 0] = 0  # B channel, to see the BGR -> RGB swap
    samples = []
    for index in range(num_frames):
        sample = SegDataSample(
            metainfo=dict(
                frame_index=index,
                label_flag=label_flags[index],
                img_shape=(height, width),
                ori_shape=(height, width)))
        sample.gt_sem_seg = PixelData(
            data=torch.ones(1, height, width, dtype=torch.long))
        samples.append(sample)
    data_sample = ClipDataSample(metainfo=dict(num_frames=num_frames))
    data_sample.frames = samples
    return dict(frames=frames, audio=torch.zeros(num_frames, 1, 96, 64)), \
        data_sample


def test_batches_clips_clip_major_with_padding():
    preprocessor = AVSDataPreProcessor(
        mean=[0, 0, 0], std=[1, 1, 1], bgr_to_rgb=True, size_divisor=8)
    inputs_a, clip_a = clip(2, 6, 7, 10, [True, False])
    inputs_b, clip_b = clip(2, 5, 8, 20, [False, True])
    out = preprocessor(
        dict(inputs=[inputs_a, inputs_b], data_samples=[clip_a, clip_b]),
        training=True)
    frames = out['inputs']['frames']
    assert frames.shape == (2, 2, 3, 8, 8) and frames.dtype == torch.float32
    assert out['inputs']['audio'].shape == (2, 2, 1, 96, 64)
    # BGR -> RGB: the zeroed B channel is now last.
    assert frames[0, 0, 2, 0, 0] == 0 and frames[0, 0, 0, 0, 0] == 10
    assert frames[0, 0, 0, 6, 0] == 0  # padded rows
    samples = out['data_samples']
    assert [s.label_flag for s in samples] == [True, False, False, True]
    assert [s.frame_index for s in samples] == [0, 1, 0, 1]
    assert samples[0].gt_sem_seg.data.shape == (1, 8, 8)
    assert samples[0].gt_sem_seg.data[0, 7, 7] == 255  # seg padding
    assert tuple(samples[2].pad_shape) == (8, 8)
    assert list(samples[2].padding_size) == [0, 0, 0, 3]  # l, r, t, b


def test_rejects_clips_of_different_length():
    preprocessor = AVSDataPreProcessor(size_divisor=8)
    inputs_a, clip_a = clip(2, 8, 8, 1, [True, True])
    inputs_b, clip_b = clip(3, 8, 8, 1, [True] * 3)
    with pytest.raises(ValueError, match='same number of frames'):
        preprocessor(
            dict(inputs=[inputs_a, inputs_b], data_samples=[clip_a, clip_b]))


def test_accepts_pseudo_collated_batches():
    from mmengine.dataset import pseudo_collate
    preprocessor = AVSDataPreProcessor(size_divisor=8)
    packed = []
    for value in (1, 2):
        inputs, data_sample = clip(2, 8, 8, value, [True, True])
        packed.append(dict(inputs=inputs, data_samples=data_sample))
    batch = pseudo_collate(packed)
    assert isinstance(batch['inputs'], dict)  # collated into lists
    out = preprocessor(batch, training=True)
    assert out['inputs']['frames'].shape == (2, 2, 3, 8, 8)
    assert out['inputs']['frames'][1, 0, 1, 0, 0] == 2
    assert len(out['data_samples']) == 4
