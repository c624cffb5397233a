# Copyright (c) mmavs contributors. All rights reserved.
import pytest

from mmavs.datasets import AudioSwapDataset, AVSBenchS4Dataset
from mmavs.datasets.synthetic import make_synthetic_avsbench


@pytest.fixture(scope='module')
def s4_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('swap')
    return make_synthetic_avsbench(
        str(root), tasks='s4', num_clips=dict(train=2, val=2, test=6),
        image_size=32, num_categories=3)['s4']


def test_every_clip_gets_audio_of_another_category(s4_root):
    dataset = AVSBenchS4Dataset(data_root=s4_root, split='test',
                                pipeline=[dict(type='LoadAVSAudio')])
    swapped = AudioSwapDataset(dataset)
    assert len(swapped) == len(dataset) == 6
    assert swapped.metainfo == dataset.metainfo
    for index in range(len(dataset)):
        original = dataset.get_data_info(index)
        info = swapped.get_data_info(index)
        donor = dataset.get_data_info(swapped.partner(index))
        assert info['frame_paths'] == original['frame_paths']
        assert info['seg_map_paths'] == original['seg_map_paths']
        assert info['audio_path'] == donor['audio_path']
        assert donor['category'] != original['category']
    sample = swapped[0]
    assert sample['audio'].shape == (5, 1, 96, 64)


def test_needs_two_clips(s4_root):
    dataset = AVSBenchS4Dataset(data_root=s4_root, split='test',
                                indices=1, pipeline=[])
    with pytest.raises(ValueError, match='at least 2 clips'):
        AudioSwapDataset(dataset)
