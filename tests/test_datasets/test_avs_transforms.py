# Copyright (c) mmavs contributors. All rights reserved.
"""Clip loading, clip-level geometry and packing."""
import os.path as osp
import pickle

import cv2
import numpy as np
import pytest
import soundfile
import torch
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

from mmavs.datasets import (AVSBenchMS3Dataset, AVSBenchS4Dataset,
                            AVSBenchSemanticDataset, AVSDataError)
from mmavs.datasets.audio import _ArrayUnpickler
from mmavs.datasets.errors import AVSDataWarning
from mmavs.datasets.metainfo import bit_interleaved_palette
from mmavs.datasets.readers import decode_palette_mask
from mmavs.datasets.transforms import (ClipTransform, LoadAVSAnnotations,
                                       LoadAVSAudio, LoadAVSFrames,
                                       PackAVSInputs)
from mmavs.structures import ClipDataSample

H, W = 48, 64


def clip_info(root, dataset_cls, split, index=0, **kwargs):
    dataset = dataset_cls(data_root=root, split=split, **kwargs)
    return dataset.get_data_info(index)


def loaded_clip(root,
                dataset_cls=AVSBenchS4Dataset,
                split='val',
                index=0,
                with_masks=True):
    results = LoadAVSFrames()(clip_info(root, dataset_cls, split, index))
    if with_masks:
        results = LoadAVSAnnotations()(results)
    return results


def find_offset(big, small):
    """(y, x) where ``small`` sits inside ``big`` exactly."""
    for y in range(big.shape[0] - small.shape[0] + 1):
        for x in range(big.shape[1] - small.shape[1] + 1):
            if np.array_equal(big[y:y + small.shape[0], x:x + small.shape[1]],
                              small):
                return y, x
    return None


# --------------------------------------------------------------------- #
# Loading
# --------------------------------------------------------------------- #
def test_load_frames_reads_bgr_frames(task_root):
    info = clip_info(task_root('s4'), AVSBenchS4Dataset, 'val')
    results = LoadAVSFrames()(dict(info))
    assert len(results['imgs']) == 5
    assert results['img_shape'] == results['ori_shape'] == (H, W)
    for img, path in zip(results['imgs'], info['frame_paths']):
        assert img.dtype == np.uint8 and img.shape == (H, W, 3)
        np.testing.assert_array_equal(img, cv2.imread(path))


def test_padded_avss_frames_are_black(task_root):
    dataset = AVSBenchSemanticDataset(
        data_root=task_root('avss'), split='train', subsets=['v1m'])
    results = LoadAVSFrames()(dataset.get_data_info(0))
    assert len(results['imgs']) == 10
    assert all(img.any() for img in results['imgs'][:5])
    assert all(img.shape == (H, W, 3) and not img.any()
               for img in results['imgs'][5:])


def test_binary_masks_and_unlabelled_frames(task_root):
    results = loaded_clip(task_root('s4'), split='train')
    masks = results['gt_seg_maps']
    assert [m.shape for m in masks] == [(H, W)] * 5
    on_disk = cv2.imread(results['seg_map_paths'][0], cv2.IMREAD_UNCHANGED)
    assert set(np.unique(on_disk)) == {0, 255}
    np.testing.assert_array_equal(masks[0], (on_disk > 0).astype(np.uint8))
    assert all((m == 255).all() for m in masks[1:])
    assert results['seg_fields'] == ['gt_seg_maps']


def test_palette_masks_give_class_ids(task_root):
    dataset = AVSBenchSemanticDataset(
        data_root=task_root('avss'), split='val', subsets=['v1s'])
    results = LoadAVSAnnotations()(LoadAVSFrames()(dataset.get_data_info(0)))
    masks = results['gt_seg_maps']
    ids = set(np.unique(np.stack(masks[:5])))
    assert 0 in ids and len(ids) >= 2 and max(ids) <= 70
    # Padded frames are background, not ignored.
    assert all((m == 0).all() for m in masks[5:])


def test_bit_interleaved_palette_matches_voc():
    palette = bit_interleaved_palette(71)
    assert palette[:6] == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
                           [0, 0, 128], [128, 0, 128]]
    assert palette[8] == [64, 0, 0] and palette[70] == [32, 128, 128]
    assert len({tuple(c) for c in palette}) == 71


def test_decode_palette_mask_unknown_colours():
    palette = bit_interleaved_palette(71)
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[0, 0] = palette[17]
    rgb[1, 2] = (1, 2, 3)
    with pytest.raises(AVSDataError) as info:
        decode_palette_mask(rgb, palette, 'm.png')
    message = str(info.value)
    assert 'm.png' in message and 'not in the palette' in message
    assert '(1, 2, 3) x 1' in message
    labels = decode_palette_mask(rgb, palette, unknown_color='background')
    assert labels[0, 0] == 17 and labels[1, 2] == 0
    labels = decode_palette_mask(rgb, palette, unknown_color='ignore')
    assert labels[1, 2] == 255


def test_unknown_colour_in_avss_mask_file(writable_task):
    root = writable_task('avss')
    dataset = AVSBenchSemanticDataset(data_root=root, split='val')
    info = dataset.get_data_info(0)
    path = info['seg_map_paths'][2]
    mask = cv2.imread(path)
    mask[3, 4] = (7, 7, 200)  # BGR of RGB (200, 7, 7)
    cv2.imwrite(path, mask)
    with pytest.raises(AVSDataError) as error:
        LoadAVSAnnotations()(LoadAVSFrames()(info))
    assert path in str(error.value)
    assert '(200, 7, 7)' in str(error.value)
    results = LoadAVSAnnotations(unknown_color='ignore')(
        LoadAVSFrames()(dataset.get_data_info(0)))
    assert results['gt_seg_maps'][2][3, 4] == 255


def test_mask_of_another_size_than_its_frame(writable_task):
    root = writable_task('ms3')
    info = clip_info(root, AVSBenchMS3Dataset, 'train')
    path = info['seg_map_paths'][1]
    cv2.imwrite(path, np.zeros((H, W + 2), np.uint8))
    with pytest.raises(AVSDataError) as error:
        LoadAVSAnnotations()(LoadAVSFrames()(info))
    assert path in str(error.value)
    assert f'mask is {W + 2}x{H} but its frame is {W}x{H}' in str(error.value)


def test_missing_frame_and_missing_mask_are_named(writable_task):
    root = writable_task('s4')
    info = clip_info(root, AVSBenchS4Dataset, 'test')
    import os
    os.remove(info['frame_paths'][3])
    with pytest.raises(AVSDataError, match='frame file is missing') as error:
        LoadAVSFrames()(dict(info))
    assert info['frame_paths'][3] in str(error.value)
    os.remove(info['seg_map_paths'][4])
    results = dict(info, ori_shape=(H, W))
    with pytest.raises(AVSDataError, match='mask file is missing') as error:
        LoadAVSAnnotations()(results)
    assert info['seg_map_paths'][4] in str(error.value)


def test_undecodable_frame(writable_task):
    root = writable_task('s4')
    info = clip_info(root, AVSBenchS4Dataset, 'val')
    with open(info['frame_paths'][0], 'wb') as file:
        file.write(b'not a png')
    with pytest.raises(AVSDataError, match='cannot be decoded') as error:
        LoadAVSFrames()(info)
    assert info['frame_paths'][0] in str(error.value)


# --------------------------------------------------------------------- #
# Audio
# --------------------------------------------------------------------- #
def test_released_pkl_and_wav_agree(task_root):
    info = clip_info(task_root('s4'), AVSBenchS4Dataset, 'train')
    from_pkl = LoadAVSAudio()(dict(info))['audio']
    with open(info['audio_path'], 'rb') as file:
        # The file must be a pickled tensor, as the release wrote it; read
        # it with the loader's restricted unpickler, never plain pickle.
        tensor = _ArrayUnpickler(file).load()
    assert isinstance(tensor, torch.Tensor)
    assert from_pkl.shape == (5, 1, 96, 64) and from_pkl.dtype == np.float32
    np.testing.assert_array_equal(from_pkl, tensor.numpy())
    wav_info = clip_info(
        task_root('s4'), AVSBenchS4Dataset, 'train', audio_source='wav')
    assert wav_info['audio_path'].endswith('.wav')
    from_wav = LoadAVSAudio()(wav_info)['audio']
    np.testing.assert_allclose(from_wav, from_pkl, atol=1e-5)


def test_padded_avss_frames_repeat_the_last_real_example(task_root):
    dataset = AVSBenchSemanticDataset(
        data_root=task_root('avss'), split='train', subsets=['v1s'])
    audio = LoadAVSAudio()(dataset.get_data_info(0))['audio']
    assert audio.shape == (10, 1, 96, 64)
    for t in range(5, 10):
        np.testing.assert_array_equal(audio[t], audio[4])
    assert not np.array_equal(audio[4], audio[3])


def test_precomputed_features(tmp_path):
    features = np.random.rand(5, 128).astype(np.float32)
    path = tmp_path / 'f.npy'
    np.save(path, features)
    out = LoadAVSAudio()(dict(audio_path=str(path), num_frames=5))['audio']
    np.testing.assert_array_equal(out, features)
    # Features of the 5 real frames of a padded clip.
    out = LoadAVSAudio()(dict(
        audio_path=str(path), num_frames=10,
        frame_valid=[1] * 5 + [0] * 5))['audio']
    assert out.shape == (10, 128)
    np.testing.assert_array_equal(out[9], features[4])
    with pytest.raises(AVSDataError, match='wrong shape'):
        LoadAVSAudio(feature_dim=None)(
            dict(audio_path=str(path), num_frames=5))


def test_pkl_of_the_wrong_shape(tmp_path):
    path = tmp_path / 'clip.pkl'
    with open(path, 'wb') as file:
        pickle.dump(torch.zeros(4, 1, 96, 64), file)
    with pytest.raises(AVSDataError) as error:
        LoadAVSAudio()(dict(audio_path=str(path), num_frames=5))
    message = str(error.value)
    assert str(path) in message
    assert 'expected [5, 1, 96, 64]' in message
    assert 'found [4, 1, 96, 64]' in message


def test_corrupt_pkl_names_the_file(tmp_path):
    path = tmp_path / 'clip.pkl'
    path.write_bytes(pickle.dumps(torch.zeros(5, 1, 96, 64))[:40])
    with pytest.raises(AVSDataError, match='cut short') as error:
        LoadAVSAudio()(dict(audio_path=str(path), num_frames=5))
    assert str(error.value).startswith(str(path))


def test_short_wav_repeats_its_last_example_too_short_is_an_error(tmp_path):
    t = np.arange(int(3.2 * 16000)) / 16000
    path = tmp_path / 'short.wav'
    soundfile.write(str(path), 0.3 * np.sin(2 * np.pi * 800 * t), 16000)
    with pytest.warns(AVSDataWarning, match='lasts 3.20 s: 3 examples.*'
                      'repeated for frames 4-5'):
        audio = LoadAVSAudio()(dict(audio_path=str(path),
                                    num_frames=5))['audio']
    assert audio.shape == (5, 1, 96, 64)
    np.testing.assert_array_equal(audio[3], audio[2])
    np.testing.assert_array_equal(audio[4], audio[2])
    soundfile.write(str(path), np.zeros(8000), 16000)
    with pytest.raises(AVSDataError, match='too short') as error:
        LoadAVSAudio()(dict(audio_path=str(path), num_frames=5))
    assert str(path) in str(error.value)


def test_silent_wav_is_usable_with_a_warning(tmp_path):
    path = tmp_path / 'silence.wav'
    soundfile.write(str(path), np.zeros(5 * 16000, np.int16), 16000)
    with pytest.warns(AVSDataWarning, match='silent'):
        audio = LoadAVSAudio()(dict(audio_path=str(path),
                                    num_frames=5))['audio']
    np.testing.assert_allclose(audio, np.log(0.01), rtol=1e-6)
    with pytest.raises(AVSDataError, match='silent.*strict mode'):
        LoadAVSAudio()(dict(audio_path=str(path), num_frames=5, strict=True))


# --------------------------------------------------------------------- #
# ClipTransform
# --------------------------------------------------------------------- #
def distinct_clip():
    """A clip whose frames differ, with masks that track a square."""
    rng = np.random.default_rng(1)
    imgs = [rng.integers(0, 255, (H, W, 3), dtype=np.uint8) for _ in range(5)]
    masks = []
    for t in range(5):
        mask = np.zeros((H, W), np.uint8)
        mask[5 + t:20 + t, 10:30] = 1
        masks.append(mask)
    masks[4] = np.full((H, W), 255, np.uint8)  # an unlabelled frame
    return dict(
        imgs=imgs,
        gt_seg_maps=masks,
        img_shape=(H, W),
        ori_shape=(H, W),
        seg_fields=['gt_seg_maps'])


def run_clip(transforms, clip=None, **kwargs):
    clip = distinct_clip() if clip is None else clip
    inputs = dict(
        clip, imgs=list(clip['imgs']), gt_seg_maps=list(clip['gt_seg_maps']))
    return clip, ClipTransform(transforms=transforms, **kwargs)(inputs)


def test_random_flip_is_shared_by_all_frames_and_masks():
    outcomes = set()
    for seed in range(12):
        np.random.seed(seed)
        clip, out = run_clip([dict(type='RandomFlip', prob=0.5)])
        flipped = [
            np.array_equal(o, i[:, ::-1])
            for o, i in zip(out['imgs'], clip['imgs'])
        ]
        assert len(set(flipped)) == 1
        for o, i in zip(out['gt_seg_maps'], clip['gt_seg_maps']):
            expected = i[:, ::-1] if flipped[0] else i
            np.testing.assert_array_equal(o, expected)
        assert out['flip'] == flipped[0]
        outcomes.add(flipped[0])
    assert outcomes == {True, False}


def test_random_crop_uses_one_box_per_clip():
    boxes = set()
    for seed in range(4):
        np.random.seed(seed)
        clip, out = run_clip([dict(type='RandomCrop', crop_size=(24, 32))])
        y, x = find_offset(clip['imgs'][0], out['imgs'][0])
        boxes.add((y, x))
        for t in range(5):
            np.testing.assert_array_equal(out['imgs'][t],
                                          clip['imgs'][t][y:y + 24, x:x + 32])
            np.testing.assert_array_equal(
                out['gt_seg_maps'][t], clip['gt_seg_maps'][t][y:y + 24,
                                                              x:x + 32])
        assert (out['gt_seg_maps'][4] == 255).all()
        assert out['img_shape'] == (24, 32)
    assert len(boxes) > 1


def test_random_resize_and_photometric_distortion_are_shared():
    base = distinct_clip()
    same = dict(base, imgs=[base['imgs'][0]] * 5)
    np.random.seed(0)
    _, out = run_clip([
        dict(
            type='RandomResize',
            scale=(W, H),
            ratio_range=(0.5, 2.0),
            keep_ratio=True),
        dict(type='PhotoMetricDistortion')
    ],
                      clip=same)
    shapes = {img.shape for img in out['imgs']}
    assert len(shapes) == 1
    assert shapes.pop()[:2] == out['gt_seg_maps'][0].shape
    assert all(np.array_equal(img, out['imgs'][0]) for img in out['imgs'])
    # The next clip draws new parameters.
    _, again = run_clip([
        dict(
            type='RandomResize',
            scale=(W, H),
            ratio_range=(0.5, 2.0),
            keep_ratio=True),
        dict(type='PhotoMetricDistortion')
    ],
                        clip=same)
    assert (again['imgs'][0].shape != out['imgs'][0].shape
            or not np.array_equal(again['imgs'][0], out['imgs'][0]))


def test_independent_random_params_when_not_shared():
    seen_mixed = False
    for seed in range(10):
        np.random.seed(seed)
        clip, out = run_clip([dict(type='RandomFlip', prob=0.5)],
                             share_random_params=False)
        flipped = {
            np.array_equal(o, i[:, ::-1])
            for o, i in zip(out['imgs'], clip['imgs'])
        }
        seen_mixed = seen_mixed or len(flipped) == 2
    assert seen_mixed


@pytest.mark.parametrize('size', [224, 512])
def test_train_and_test_orders(task_root, size):
    resize = ClipTransform(
        transforms=[dict(type='Resize', scale=(size, size), keep_ratio=False)])
    # Train: masks loaded first follow the frames.
    train = resize(loaded_clip(task_root('s4')))
    assert all(img.shape == (size, size, 3) for img in train['imgs'])
    assert all(m.shape == (size, size) for m in train['gt_seg_maps'])
    assert train['scale_factor'] == (size / W, size / H)
    # Test (mmseg convention): masks loaded after the resize stay original.
    test = LoadAVSAnnotations()(
        resize(loaded_clip(task_root('s4'), with_masks=False)))
    assert all(img.shape == (size, size, 3) for img in test['imgs'])
    assert all(m.shape == (H, W) for m in test['gt_seg_maps'])
    assert test['ori_shape'] == (H, W)


def test_unlabelled_masks_stay_ignored_through_geometry(task_root):
    transform = ClipTransform(transforms=[
        dict(
            type='RandomResize',
            scale=(W, H),
            ratio_range=(1.0, 1.5),
            keep_ratio=True),
        dict(type='RandomCrop', crop_size=(40, 40)),
        dict(type='RandomFlip', prob=1.0)
    ])
    out = transform(loaded_clip(task_root('s4'), split='train'))
    assert set(np.unique(out['gt_seg_maps'][0])) <= {0, 1}
    assert all((m == 255).all() and m.shape == (40, 40)
               for m in out['gt_seg_maps'][1:])


def test_clip_transform_builds_from_registry():
    transform = TRANSFORMS.build(
        dict(
            type='ClipTransform',
            transforms=[dict(type='Resize', scale=(8, 8), keep_ratio=False)]))
    assert isinstance(transform, ClipTransform)
    assert 'Resize' in repr(transform)


# --------------------------------------------------------------------- #
# PackAVSInputs
# --------------------------------------------------------------------- #
def test_pack_clip(task_root):
    info = clip_info(task_root('s4'), AVSBenchS4Dataset, 'train', index=1)
    results = LoadAVSAudio()(LoadAVSAnnotations()(LoadAVSFrames()(info)))
    packed = PackAVSInputs()(results)
    frames, audio = packed['inputs']['frames'], packed['inputs']['audio']
    assert frames.shape == (5, 3, H, W) and frames.dtype == torch.uint8
    assert frames.is_contiguous()
    # BGR, as mmseg's PackSegInputs: channel 0 is the B of cv2.imread.
    np.testing.assert_array_equal(frames[2].permute(1, 2, 0).numpy(),
                                  cv2.imread(info['frame_paths'][2]))
    assert audio.shape == (5, 1, 96, 64) and audio.dtype == torch.float32

    clip = packed['data_samples']
    assert isinstance(clip, ClipDataSample) and len(clip) == 5
    assert clip.metainfo == dict(
        clip_name=info['clip_name'], num_frames=5, sample_idx=1)
    for t, sample in enumerate(clip.frames):
        assert isinstance(sample, SegDataSample)
        gt = sample.gt_sem_seg.data
        assert gt.shape == (1, H, W) and gt.dtype == torch.int64
        meta = sample.metainfo
        assert meta['frame_index'] == t
        assert meta['label_flag'] is (t == 0)
        assert meta['frame_valid'] is True
        assert meta['img_path'] == info['frame_paths'][t]
        assert meta['seg_map_path'] == info['seg_map_paths'][t]
        assert meta['ori_shape'] == meta['img_shape'] == (H, W)
        assert meta['flip'] is False and meta['scale_factor'] == (1.0, 1.0)
        assert meta['clip_name'] == info['clip_name']
        assert meta['num_frames'] == 5 and meta['sample_idx'] == 1
        assert meta['reduce_zero_label'] is False
    assert set(clip.frames[0].gt_sem_seg.data.unique().tolist()) == {0, 1}
    assert (clip.frames[3].gt_sem_seg.data == 255).all()


def test_pack_without_masks_and_custom_meta_keys(task_root):
    info = clip_info(task_root('ms3'), AVSBenchMS3Dataset, 'test')
    results = LoadAVSAudio()(LoadAVSFrames()(info))
    packed = PackAVSInputs(
        meta_keys=('img_path', 'frame_index'),
        clip_meta_keys=('clip_name', 'split'))(
            results)
    sample = packed['data_samples'].frames[4]
    assert 'gt_sem_seg' not in sample
    assert set(sample.metainfo) == {'img_path', 'frame_index'}
    assert packed['data_samples'].metainfo == dict(
        clip_name=info['clip_name'], split='test')
    assert osp.basename(sample.img_path).endswith('.mp4_5.png')
