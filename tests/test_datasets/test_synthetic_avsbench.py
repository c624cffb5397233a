# Copyright (c) mmavs contributors. All rights reserved.
"""The synthetic AVSBench generator: layout, determinism, audio <-> labels."""
import csv
import hashlib
import json
import math
import os
import os.path as osp
import time

import cv2
import numpy as np
import pytest

from mmavs.datasets.metainfo import AVSS_CLASSES, AVSS_PALETTE
from mmavs.datasets.audio import (file_to_log_mel_examples,
                                  load_pickled_array)
from mmavs.datasets.synthetic import (make_synthetic_avsbench,
                                      synthetic_categories)

CATEGORIES = synthetic_categories(5)


def read_csv(path):
    with open(path) as file:
        return list(csv.DictReader(file))


def tone_band(freq):
    """The mel band of a tone, from the VGGish band centres."""

    def mel(f):
        return 1127.0 * math.log(1 + f / 700.0)

    low, high = mel(125.0), mel(7500.0)
    centres = [low + (high - low) * (i + 1) / 65 for i in range(64)]
    return int(np.argmin([abs(c - mel(freq)) for c in centres]))


def loud_bands(example):
    """Mel bands that stand out of one example [1, 96, 64]."""
    spectrum = example[0].mean(axis=0)
    return {int(b) for b in np.flatnonzero(spectrum > spectrum.max() - 1.5)}


def sounding_categories(example):
    """Categories whose tone band is loud in an example."""
    loud = loud_bands(example)
    return {
        i
        for i, c in enumerate(CATEGORIES) if tone_band(c['frequency']) in loud
    }


def colour_categories(frame, mask):
    """Categories whose colour covers most of the masked pixels' objects."""
    found = set()
    pixels = frame[cv2.erode(mask, np.ones((3, 3), np.uint8)) > 0].astype(int)
    for i, c in enumerate(CATEGORIES):
        close = np.abs(pixels - np.array(c['color'])).max(axis=1) < 40
        if close.sum() > 5:
            found.add(i)
    return found


def test_categories_are_distinct():
    assert len({c['shape'] for c in CATEGORIES}) == 5
    assert len({tuple(c['color']) for c in CATEGORIES}) == 5
    bands = sorted(tone_band(c['frequency']) for c in CATEGORIES)
    assert min(np.diff(bands)) >= 5
    assert all(AVSS_CLASSES[c['avss_index']] == c['avss_name']
               for c in CATEGORIES)
    with pytest.raises(ValueError):
        synthetic_categories(9)


def test_s4_layout_and_audio_tells_the_labelled_object(task_root):
    root = task_root('s4')
    rows = read_csv(osp.join(root, 's4_meta_data.csv'))
    assert list(rows[0]) == ['name', 'start_time', 'category', 'split']
    assert [r['split'] for r in rows].count('train') == 4
    for row in rows:
        name, cat, split = row['name'], row['category'], row['split']
        rel = osp.join(split, cat, name)
        frames_dir = osp.join(root, 's4_data', 'visual_frames', rel)
        masks_dir = osp.join(root, 's4_data', 'gt_masks', rel)
        assert sorted(os.listdir(frames_dir)) == [
            f'{name}_{i}.png' for i in range(1, 6)
        ]
        expected_masks = 1 if split == 'train' else 5
        assert sorted(os.listdir(masks_dir)) == [
            f'{name}_{i}.png' for i in range(1, expected_masks + 1)
        ]
        wav = osp.join(root, 's4_data', 'audio_wav', rel + '.wav')
        log_mel = load_pickled_array(
            osp.join(root, 's4_data', 'audio_log_mel', rel + '.pkl'))
        assert log_mel.shape == (5, 1, 96, 64)
        assert log_mel.dtype == np.float32
        # The released pkl is the front end applied to the released wav.
        np.testing.assert_allclose(
            file_to_log_mel_examples(wav), log_mel, atol=1e-5)
        category = [c['s4_name'] for c in CATEGORIES].index(cat)
        for t in range(expected_masks):
            frame = cv2.imread(osp.join(frames_dir, f'{name}_{t + 1}.png'))
            mask = cv2.imread(
                osp.join(masks_dir, f'{name}_{t + 1}.png'),
                cv2.IMREAD_UNCHANGED)
            assert frame.shape == (48, 64, 3) and mask.shape == (48, 64)
            assert set(np.unique(mask)) == {0, 255}
            # One sound, one labelled object: the csv category.
            assert sounding_categories(log_mel[t]) == {category}
            assert colour_categories(frame, mask) == {category}
            # Other objects are on screen but unlabelled.
            everything = (np.abs(frame.astype(int) - frame[0, 0]).max(2) > 60)
            assert everything.sum() > (mask > 0).sum() * 1.3


def test_ms3_labels_follow_the_audio_each_second(task_root):
    root = task_root('ms3')
    rows = read_csv(osp.join(root, 'ms3_meta_data.csv'))
    assert list(rows[0]) == ['video_id', 'split']
    changing = 0
    for row in rows:
        name, split = row['video_id'], row['split']
        log_mel = load_pickled_array(
            osp.join(root, 'ms3_data', 'audio_log_mel', split,
                     name + '.pkl'))
        labelled = []
        for t in range(5):
            frame = cv2.imread(
                osp.join(root, 'ms3_data', 'visual_frames', name,
                         f'{name}.mp4_{t + 1}.png'))
            mask = cv2.imread(
                osp.join(root, 'ms3_data', 'gt_masks', split, name,
                         f'{name}_{t + 1}.png'), cv2.IMREAD_UNCHANGED)
            sounding = sounding_categories(log_mel[t])
            assert 1 <= len(sounding) <= 2
            assert colour_categories(frame, mask) == sounding
            labelled.append(frozenset(sounding))
        changing += len(set(labelled)) > 1
    assert changing >= 1


def test_avss_layout_palette_and_subsets(task_root):
    root = task_root('avss')
    rows = read_csv(osp.join(root, 'metadata.csv'))
    assert {'uid', 'label', 'split'} <= set(rows[0])
    with open(osp.join(root, 'label2idx.json')) as file:
        assert json.load(file) == {n: i for i, n in enumerate(AVSS_CLASSES)}
    palette = {tuple(c): i for i, c in enumerate(AVSS_PALETTE)}
    ids_of = {c['avss_index']: i for i, c in enumerate(CATEGORIES)}
    for row in rows:
        clip = osp.join(root, row['label'], row['uid'])
        real = 10 if row['label'] == 'v2' else 5
        assert sorted(os.listdir(osp.join(clip, 'frames'))) == sorted(
            f'{i}.jpg' for i in range(real))
        masks = sorted(os.listdir(osp.join(clip, 'labels_rgb')))
        if row['label'] == 'v1s' and row['split'] == 'train':
            assert masks == ['0.png']
        else:
            assert masks == sorted(f'{i}.png' for i in range(real))
        examples = file_to_log_mel_examples(osp.join(clip, 'audio.wav'))
        assert examples.shape == (real, 1, 96, 64)
        for name in masks:
            t = int(name[:-4])
            rgb = cv2.imread(osp.join(clip, 'labels_rgb', name))[..., ::-1]
            colours = {tuple(c) for c in rgb.reshape(-1, 3)}
            assert colours <= set(palette)
            ids = {palette[c] for c in colours} - {0}
            assert {ids_of[i] for i in ids} == sounding_categories(examples[t])


def test_deterministic_given_the_seed(tmp_path):

    def digest(root):
        sha = hashlib.sha256()
        for folder, _, files in sorted(os.walk(root)):
            for name in sorted(files):
                path = osp.join(folder, name)
                sha.update(osp.relpath(path, root).encode())
                with open(path, 'rb') as file:
                    if name.endswith('.pkl'):
                        # A pickled tensor embeds storage ids: compare values.
                        sha.update(
                            load_pickled_array(file.read(),
                                               name=path).tobytes())
                    else:
                        sha.update(file.read())
        return sha.hexdigest()

    kwargs = dict(tasks=('s4', 'avss'), num_clips=2, image_size=32)
    make_synthetic_avsbench(str(tmp_path / 'a'), seed=5, **kwargs)
    make_synthetic_avsbench(str(tmp_path / 'b'), seed=5, **kwargs)
    make_synthetic_avsbench(str(tmp_path / 'c'), seed=6, **kwargs)
    assert digest(tmp_path / 'a') == digest(tmp_path / 'b')
    assert digest(tmp_path / 'a') != digest(tmp_path / 'c')


def test_sounding_categories_are_balanced_and_generation_is_fast(tmp_path):
    start = time.perf_counter()
    make_synthetic_avsbench(
        str(tmp_path), tasks='s4', num_clips=dict(train=30), image_size=64)
    elapsed = time.perf_counter() - start
    # About 20 ms a clip on one core; generous for loaded machines.
    assert elapsed < 12, elapsed
    rows = read_csv(osp.join(tmp_path, 'Single-source', 's4_meta_data.csv'))
    counts = {}
    for row in rows:
        counts[row['category']] = counts.get(row['category'], 0) + 1
    assert sorted(counts.values()) == [6] * 5


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match='Unknown tasks'):
        make_synthetic_avsbench(str(tmp_path), tasks='s5')
    with pytest.raises(ValueError, match='image_size'):
        make_synthetic_avsbench(str(tmp_path), image_size=8)
    with pytest.raises(ValueError, match='objects_per_clip'):
        make_synthetic_avsbench(str(tmp_path), objects_per_clip=(3, 2))
