# Copyright (c) mmavs contributors. All rights reserved.
"""AVSBench datasets on synthetic data in the released layouts."""
import copy
import csv
import json
import os
import os.path as osp
from unittest import mock

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.registry import DATASETS

from mmavs.datasets import (AVSBenchMS3Dataset, AVSBenchS4Dataset,
                            AVSBenchSemanticDataset, AVSDataError)
from mmavs.datasets.metainfo import AVSS_CLASSES
from mmavs.datasets.synthetic import synthetic_categories
from mmavs.models.data_preprocessors import AVSDataPreProcessor

H, W = 48, 64
CONFIG_DIR = osp.join(
    osp.dirname(__file__), '..', '..', 'configs', '_base_', 'datasets')
CONTRACT_KEYS = {
    'clip_name', 'category', 'split', 'task', 'num_frames', 'frame_paths',
    'seg_map_paths', 'label_flags', 'frame_valid', 'audio_path',
    'reduce_zero_label', 'seg_fields', 'sample_idx'
}
CATEGORIES = synthetic_categories(5)
#: A geometric pipeline whose random parameters the masks must share.
RANDOM_GEOMETRY = dict(
    type='ClipTransform',
    transforms=[
        dict(
            type='RandomResize',
            scale=(128, 96),
            ratio_range=(1.0, 1.5),
            keep_ratio=True),
        dict(type='RandomCrop', crop_size=(80, 96)),
        dict(type='RandomFlip', prob=0.5)
    ])


def config_dataset(task, root, split='train', pipeline=None):
    """The dataset of a shipped dataset config, pointed at ``root``."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, f'avsbench_{task}.py'))
    loader = cfg[f'{"train" if split == "train" else "test"}_dataloader']
    dataset_cfg = copy.deepcopy(loader.dataset)
    dataset_cfg.update(data_root=root, split=split)
    if pipeline is not None:
        dataset_cfg.pipeline = pipeline
    return DATASETS.build(dataset_cfg), cfg


def random_geometry_pipeline(audio=True):
    pipeline = [dict(type='LoadAVSFrames'), dict(type='LoadAVSAnnotations')]
    if audio:
        pipeline.append(dict(type='LoadAVSAudio'))
    return pipeline + [RANDOM_GEOMETRY, dict(type='PackAVSInputs')]


def assert_masks_sit_on_their_objects(frames, masks, colours):
    """The labelled pixels show the colour of their label.

    The masks are eroded by 2 px, and 10% of the pixels may be off, because
    of bilinear resizing and JPEG's subsampled colour at object borders; a
    mask that missed the frame's flip or crop lands on the background and
    fails by far.

    Args:
        frames (Tensor): [T, 3, H, W] BGR.
        masks (list[Tensor]): T [H, W].
        colours (dict[int, list]): label -> candidate BGR colours.
    """
    checked = 0
    for frame, mask in zip(frames, masks):
        frame = frame.permute(1, 2, 0).numpy().astype(int)
        mask = mask.numpy()
        for label in np.unique(mask):
            if label in (0, 255):
                continue
            inner = cv2.erode((mask == label).astype(np.uint8),
                              np.ones((5, 5), np.uint8)).astype(bool)
            pixels = frame[inner]
            if not len(pixels):
                continue
            distance = np.min([
                np.abs(pixels - np.array(colour)).max(axis=1)
                for colour in colours[int(label)]
            ],
                              axis=0)
            assert (distance < 50).mean() > 0.9, (label, distance.max())
            checked += len(pixels)
    assert checked > 0


def test_s4_data_list_follows_the_contract(task_root):
    dataset = AVSBenchS4Dataset(data_root=task_root('s4'), split='train')
    assert len(dataset) == 4
    info = dataset.get_data_info(2)
    assert CONTRACT_KEYS <= set(info)
    assert info['task'] == 's4' and info['num_frames'] == 5
    assert info['sample_idx'] == 2 and info['reduce_zero_label'] is False
    name, cat = info['clip_name'], info['category']
    assert cat in [c['s4_name'] for c in CATEGORIES]
    assert info['frame_paths'][4] == osp.join(
        task_root('s4'), 's4_data', 'visual_frames', 'train', cat, name,
        f'{name}_5.png')
    assert info['seg_map_paths'] == [
        osp.join(
            task_root('s4'), 's4_data', 'gt_masks', 'train', cat, name,
            f'{name}_1.png'), None, None, None, None
    ]
    assert info['label_flags'] == [1, 0, 0, 0, 0]
    assert info['audio_path'] == osp.join(
        task_root('s4'), 's4_data', 'audio_log_mel', 'train', cat,
        name + '.pkl')
    val = AVSBenchS4Dataset(data_root=task_root('s4'), split='val')
    assert val.get_data_info(0)['label_flags'] == [1] * 5
    assert None not in val.get_data_info(0)['seg_map_paths']
    assert dataset.metainfo['classes'] == ('background', 'foreground')


@pytest.mark.parametrize('split', ['train', 'val'])
def test_s4_full_pipeline(task_root, split):
    dataset, _ = config_dataset('s4', task_root('s4'), split)
    out = dataset[1]
    frames, audio = out['inputs']['frames'], out['inputs']['audio']
    assert frames.shape == (5, 3, 224, 224) and frames.dtype == torch.uint8
    assert audio.shape == (5, 1, 96, 64) and audio.dtype == torch.float32
    flags = [s.label_flag for s in out['data_samples'].frames]
    assert flags == ([True] + [False] * 4 if split == 'train' else [True] * 5)
    masks = [s.gt_sem_seg.data[0] for s in out['data_samples'].frames]
    # Train masks follow the resize; test masks stay at the original size.
    assert masks[0].shape == ((224, 224) if split == 'train' else (H, W))
    assert set(masks[0].unique().tolist()) == {0, 1}
    if split == 'train':
        assert all((m == 255).all() for m in masks[1:])


def test_s4_random_geometry_hits_frames_and_masks_alike(task_root):
    dataset, _ = config_dataset(
        's4', task_root('s4'), 'val', pipeline=random_geometry_pipeline())
    colours = {c['s4_name']: c['color'] for c in CATEGORIES}
    flips = set()
    for seed in range(3):
        np.random.seed(seed)
        for index in range(len(dataset)):
            out = dataset[index]
            category = dataset.get_data_info(index)['category']
            samples = out['data_samples'].frames
            assert out['inputs']['frames'].shape == (5, 3, 80, 96)
            assert_masks_sit_on_their_objects(
                out['inputs']['frames'],
                [s.gt_sem_seg.data[0]
                 for s in samples], {1: [colours[category]]})
            flips.add(samples[0].flip)
    assert flips == {True, False}


def test_ms3_full_pipeline_and_geometry(task_root):
    dataset, _ = config_dataset('ms3', task_root('ms3'), 'train')
    info = dataset.get_data_info(0)
    assert info['frame_paths'][0] == osp.join(
        task_root('ms3'), 'ms3_data', 'visual_frames', info['clip_name'],
        f'{info["clip_name"]}.mp4_1.png')
    assert info['label_flags'] == [1] * 5 and info['category'] is None
    out = dataset[0]
    assert out['inputs']['frames'].shape == (5, 3, 224, 224)
    assert out['inputs']['audio'].shape == (5, 1, 96, 64)
    assert all(s.label_flag for s in out['data_samples'].frames)

    np.random.seed(1)
    dataset, _ = config_dataset(
        'ms3', task_root('ms3'), 'test', pipeline=random_geometry_pipeline())
    every_colour = [c['color'] for c in CATEGORIES]
    for index in range(len(dataset)):
        out = dataset[index]
        masks = [s.gt_sem_seg.data[0] for s in out['data_samples'].frames]
        assert set(torch.cat(masks).unique().tolist()) <= {0, 1}
        assert_masks_sit_on_their_objects(out['inputs']['frames'], masks,
                                          {1: every_colour})


def test_avss_padding_flags_and_full_pipeline(task_root):
    dataset, _ = config_dataset('avss', task_root('avss'), 'train')
    assert dataset.metainfo['classes'] == AVSS_CLASSES
    assert len(dataset.metainfo['palette']) == 71
    subsets = {
        dataset.get_data_info(i)['subset']: i
        for i in range(len(dataset))
    }
    assert set(subsets) == {'v1s', 'v1m', 'v2'}
    expected_flags = dict(
        v1s=[1] + [0] * 9, v1m=[1] * 5 + [0] * 5, v2=[1] * 10)
    for subset, index in subsets.items():
        info = dataset.get_data_info(index)
        assert info['num_frames'] == 10
        assert info['label_flags'] == expected_flags[subset]
        real = 10 if subset == 'v2' else 5
        assert info['frame_valid'] == [1] * real + [0] * (10 - real)
        assert info['frame_paths'][0].endswith(
            osp.join(subset, info['clip_name'], 'frames', '0.jpg'))
        assert info['frame_paths'][real:] == [None] * (10 - real)
        assert info['audio_path'].endswith('audio.wav')

        out = dataset[index]
        frames = out['inputs']['frames']
        assert frames.shape == (10, 3, 224, 224)
        assert out['inputs']['audio'].shape == (10, 1, 96, 64)
        samples = out['data_samples'].frames
        assert [s.frame_valid
                for s in samples] == [bool(v) for v in info['frame_valid']]
        assert [s.label_flag
                for s in samples] == [bool(v) for v in expected_flags[subset]]
        masks = [s.gt_sem_seg.data[0] for s in samples]
        for t in range(10):
            if not info['frame_valid'][t]:
                assert not frames[t].any() and (masks[t] == 0).all()
            elif not info['label_flags'][t]:
                assert (masks[t] == 255).all()
            else:
                ids = set(masks[t].unique().tolist())
                assert ids <= {0} | {c['avss_index'] for c in CATEGORIES}


def test_avss_val_v1s_ships_five_masks_and_geometry(task_root):
    np.random.seed(2)
    dataset, _ = config_dataset(
        'avss', task_root('avss'), 'val', pipeline=random_geometry_pipeline())
    colours = {c['avss_index']: [c['color']] for c in CATEGORIES}
    seen = set()
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        seen.add(info['subset'])
        if info['subset'] == 'v1s':
            assert info['label_flags'] == [1] * 5 + [0] * 5
        out = dataset[index]
        assert out['inputs']['frames'].shape == (10, 3, 80, 96)
        valid = [t for t in range(10) if info['frame_valid'][t]]
        assert_masks_sit_on_their_objects(
            out['inputs']['frames'][valid],
            [out['data_samples'].frames[t].gt_sem_seg.data[0]
             for t in valid], colours)
    assert seen == {'v1s', 'v1m', 'v2'}


def test_avss_subsets_and_audio_sources(task_root):
    dataset = AVSBenchSemanticDataset(
        data_root=task_root('avss'), split='train', subsets=['v2'])
    assert {dataset.get_data_info(i)['subset']
            for i in range(len(dataset))} == {'v2'}
    features = AVSBenchSemanticDataset(
        data_root=task_root('avss'),
        split='train',
        audio_source='feature',
        check_files=False)
    assert features.get_data_info(0)['audio_path'].endswith('audio_vggish.npy')
    with pytest.raises(ValueError, match='audio_source'):
        AVSBenchS4Dataset(data_root=task_root('s4'), audio_source='mp3')


# --------------------------------------------------------------------- #
# Bad input
# --------------------------------------------------------------------- #
def test_missing_frame_fails_at_start_up_or_is_skipped(writable_task):
    root = writable_task('s4')
    frame = AVSBenchS4Dataset(
        data_root=root, split='train').get_data_info(1)['frame_paths'][2]
    os.remove(frame)
    with pytest.raises(AVSDataError) as error:
        AVSBenchS4Dataset(data_root=root, split='train')
    assert frame in str(error.value) and 'is missing' in str(error.value)
    with mock.patch('mmavs.datasets.avsbench.print_log') as log:
        dataset = AVSBenchS4Dataset(
            data_root=root, split='train', skip_missing=True)
    assert len(dataset) == 3
    assert 'skipped 1 of 4 clips' in log.call_args[0][0]
    # Without the start-up check the pipeline names the file.
    dataset = AVSBenchS4Dataset(
        data_root=root,
        split='train',
        check_files=False,
        pipeline=[dict(type='LoadAVSFrames')])
    with pytest.raises(AVSDataError, match='frame file is missing') as error:
        dataset[1]
    assert frame in str(error.value)


def test_missing_mask_where_the_split_has_one(writable_task):
    root = writable_task('s4')
    info = AVSBenchS4Dataset(data_root=root, split='val').get_data_info(0)
    os.remove(info['seg_map_paths'][2])
    with pytest.raises(AVSDataError) as error:
        AVSBenchS4Dataset(data_root=root, split='val')
    message = str(error.value)
    assert info['seg_map_paths'][2] in message
    assert 'mask of frame 3/5' in message and 'labels this frame' in message


def test_split_without_samples(writable_task):
    root = writable_task('ms3')
    csv_path = osp.join(root, 'ms3_meta_data.csv')
    with open(csv_path) as file:
        rows = [row for row in csv.reader(file)]
    with open(csv_path, 'w', newline='') as file:
        csv.writer(file).writerows(
            [rows[0]] + [row for row in rows[1:] if row[1] != 'test'])
    with pytest.raises(AVSDataError) as error:
        AVSBenchMS3Dataset(data_root=root, split='test')
    assert csv_path in str(error.value)
    assert 'split "test" has no samples' in str(error.value)
    with pytest.raises(AVSDataError, match='metadata csv file is missing'):
        AVSBenchMS3Dataset(data_root=root, ann_file='nope.csv')


def test_row_with_surplus_fields(writable_task):
    root = writable_task('ms3')
    csv_path = osp.join(root, 'ms3_meta_data.csv')
    with open(csv_path, 'a') as file:
        file.write('extra_clip,train,unexpected,fields,here\n')
    with pytest.raises(AVSDataError) as error:
        AVSBenchMS3Dataset(data_root=root, split='train')
    assert csv_path in str(error.value)
    assert 'more fields than the header' in str(error.value)


def test_bad_avss_metadata(writable_task):
    root = writable_task('avss')
    label2idx = osp.join(root, 'label2idx.json')
    with open(label2idx) as file:
        mapping = json.load(file)
    mapping['dog'], mapping['cat'] = mapping['cat'], mapping['dog']
    with open(label2idx, 'w') as file:
        json.dump(mapping, file)
    with pytest.raises(AVSDataError) as error:
        AVSBenchSemanticDataset(data_root=root, split='train')
    assert label2idx in str(error.value)
    assert "index 12 is 'dog' in the file but 'cat'" in str(error.value)
    assert len(
        AVSBenchSemanticDataset(
            data_root=root, split='train', label2idx_file=None)) == 4

    csv_path = osp.join(root, 'metadata.csv')
    with open(csv_path) as file:
        text = file.read()
    with open(csv_path, 'w') as file:
        file.write(text.replace(',train,v2', ',train,v3', 1))
    line = next(number for number, row in enumerate(text.splitlines(), 1)
                if ',train,v2' in row)
    with pytest.raises(AVSDataError,
                       match=f"line {line} .*unknown label 'v3'"):
        AVSBenchSemanticDataset(
            data_root=root, split='train', label2idx_file=None)


def test_padded_frame_mask_is_background_not_ignore(task_root):
    dataset = AVSBenchSemanticDataset(
        data_root=task_root('avss'),
        split='train',
        subsets=['v1s'],
        pipeline=[dict(type='LoadAVSFrames'),
                  dict(type='LoadAVSAnnotations')])
    masks = dataset[0]['gt_seg_maps']
    assert (masks[1] == 255).all() and (masks[7] == 0).all()


# --------------------------------------------------------------------- #
# DataLoader + data preprocessor
# --------------------------------------------------------------------- #
def s4_loader(root):
    pipeline = [
        dict(type='LoadAVSFrames'),
        dict(type='LoadAVSAnnotations'),
        dict(type='LoadAVSAudio'),
        dict(type='PackAVSInputs')
    ]
    return Runner.build_dataloader(
        dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='pseudo_collate'),
            dataset=dict(
                type='AVSBenchS4Dataset',
                data_root=root,
                split='train',
                pipeline=pipeline)),
        seed=0)


def make_preprocessor():
    return AVSDataPreProcessor(
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        size_divisor=32)


def test_dataloader_batches_through_the_preprocessor(task_root):
    batches = list(s4_loader(task_root('s4')))
    assert len(batches) == 2
    batch = batches[0]
    # pseudo_collate turns the B input dicts into a dict of B-long lists.
    assert set(batch['inputs']) == {'frames', 'audio'}
    assert len(batch['inputs']['frames']) == 2
    assert len(batch['data_samples']) == 2
    out = make_preprocessor()(batch, training=True)
    frames, audio = out['inputs']['frames'], out['inputs']['audio']
    assert frames.shape == (2, 5, 3, 64, 64)  # 48 padded to 64
    assert frames.dtype == torch.float32
    assert audio.shape == (2, 5, 1, 96, 64)
    samples = out['data_samples']
    assert len(samples) == 10
    assert [s.label_flag
            for s in samples] == [True, False, False, False, False] * 2
    assert [s.frame_index for s in samples] == list(range(5)) * 2
    assert [s.sample_idx for s in samples] == [0] * 5 + [1] * 5
    gt = samples[0].gt_sem_seg.data
    assert gt.shape == (1, 64, 64)
    assert (gt[:, H:] == 255).all()  # padding is ignored
    assert set(gt[:, :H].unique().tolist()) == {0, 1}
    assert samples[0].pad_shape == (64, 64)
    # Normalised RGB: undo and compare with the BGR uint8 frame.
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)
    restored = frames[1, 3, :, :H, :W] * std + mean
    torch.testing.assert_close(
        restored,
        batch['inputs']['frames'][1][3].flip(0).float(),
        atol=1e-3,
        rtol=0)


@pytest.mark.parametrize('task,metric', [('s4', 'AVSBinaryMetric'),
                                         ('ms3', 'AVSBinaryMetric'),
                                         ('avss', 'AVSSemanticMetric')])
def test_dataset_configs(task, metric):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, f'avsbench_{task}.py'))
    assert cfg.val_evaluator == cfg.test_evaluator == dict(type=metric)
    assert cfg.train_dataloader.batch_size == 4
    assert cfg.train_dataloader.sampler == dict(
        type='DefaultSampler', shuffle=True)
    assert cfg.test_dataloader.sampler.shuffle is False
    splits = [
        cfg[f'{s}_dataloader'].dataset.split for s in ('train', 'val', 'test')
    ]
    assert splits == ['train', 'val', 'test']
    assert cfg.train_dataloader.dataset.data_root.startswith('data/AVSBench/')


def test_512_input_is_just_config(task_root):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'avsbench_s4.py'))
    pipeline = copy.deepcopy(cfg.train_pipeline)
    pipeline[3].transforms[0].scale = (512, 512)
    dataset, _ = config_dataset('s4', task_root('s4'), pipeline=pipeline)
    out = dataset[0]
    assert out['inputs']['frames'].shape == (5, 3, 512, 512)
    assert out['data_samples'].frames[0].gt_sem_seg.shape == (512, 512)
