# Copyright (c) mmavs contributors. All rights reserved.
import numpy as np
import pytest
import torch

from mmavs.datasets import AVSBenchMS3Dataset, SilentAudioDataset
from mmavs.datasets.audio import log_mel_spectrogram
from mmavs.datasets.synthetic import make_synthetic_avsbench
from mmavs.datasets.audio import silent_log_mel_example

PIPELINE = [
    dict(type='LoadAVSFrames'),
    dict(type='LoadAVSAnnotations'),
    dict(type='LoadAVSAudio'),
    dict(type='PackAVSInputs')
]


@pytest.fixture(scope='module')
def ms3_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('silent')
    return make_synthetic_avsbench(
        str(root), tasks='ms3', num_clips=dict(train=1, val=1, test=3),
        image_size=32, num_categories=3)['ms3']


def test_silence_is_the_front_end_output_for_zeros():
    example = silent_log_mel_example()
    assert example.shape == (1, 96, 64) and example.dtype == np.float32
    np.testing.assert_allclose(example, np.log(0.01), rtol=1e-6)
    # What a silent wav of any length gives, frame by frame.
    np.testing.assert_array_equal(
        log_mel_spectrogram(np.zeros(32000), 16000)[:96], example[0])


@pytest.mark.parametrize('audio_source', ['log_mel', 'wav'])
def test_audio_is_silent_and_frames_labels_unchanged(ms3_root, audio_source):
    dataset = AVSBenchMS3Dataset(data_root=ms3_root, split='test',
                                 audio_source=audio_source, pipeline=PIPELINE)
    silent = SilentAudioDataset(dataset)
    assert len(silent) == 3 and silent.metainfo == dataset.metainfo
    for index in range(len(dataset)):
        original, quiet = dataset[index], silent[index]
        audio = quiet['inputs']['audio']
        assert audio.shape == (5, 1, 96, 64) and audio.dtype == torch.float32
        assert torch.all(audio == float(np.log(np.float32(0.01))))
        assert not torch.equal(original['inputs']['audio'], audio)
        assert torch.equal(original['inputs']['frames'],
                           quiet['inputs']['frames'])
        for before, after in zip(original['data_samples'].frames,
                                 quiet['data_samples'].frames):
            assert torch.equal(before.gt_sem_seg.data, after.gt_sem_seg.data)
            assert before.metainfo == after.metainfo


def test_features_get_the_given_silence_vector_or_zeros(ms3_root):
    dataset = AVSBenchMS3Dataset(data_root=ms3_root, split='test',
                                 pipeline=[dict(type='LoadAVSAudio')])
    silent = SilentAudioDataset(dataset, silent_features=[0.5, 1.5, 2.5])
    features = np.ones((5, 3), np.float32)
    np.testing.assert_array_equal(silent.silence_like(features),
                                  np.tile([0.5, 1.5, 2.5], (5, 1)))
    np.testing.assert_array_equal(
        SilentAudioDataset(dataset).silence_like(features), 0)
    with pytest.raises(ValueError, match='silent_features has 3 values'):
        silent.silence_like(np.ones((5, 4), np.float32))
    # Unpacked pipeline results are silenced too.
    np.testing.assert_allclose(silent[0]['audio'], np.log(0.01), rtol=1e-6)


def test_pipeline_without_audio_is_refused(ms3_root):
    dataset = AVSBenchMS3Dataset(data_root=ms3_root, split='test',
                                 pipeline=[dict(type='LoadAVSFrames')])
    with pytest.raises(KeyError, match='LoadAVSAudio'):
        SilentAudioDataset(dataset)[0]


def test_builds_from_a_config(ms3_root):
    from mmseg.registry import DATASETS
    silent = DATASETS.build(
        dict(type='SilentAudioDataset',
             dataset=dict(type='AVSBenchMS3Dataset', data_root=ms3_root,
                          split='test', pipeline=PIPELINE)))
    assert torch.all(silent[1]['inputs']['audio'] < -4.6)
