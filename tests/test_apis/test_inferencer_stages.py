# Copyright (c) mmavs contributors. All rights reserved.
"""Unit tests of the inferencer's stages through their public names:
sources, sampling, batching and outputs, on tiny hand-made inputs (no
model; test_inferencer.py runs them end to end)."""
import os.path as osp
import re
import warnings
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import soundfile
import torch
from mmengine.config import Config

from mmavs.apis.inferencer.batching import (ClipBatch, ClipBatcher, InOrder,
                                            batch_samples, deal_clips,
                                            split_test_pipeline,
                                            transform_frame)
from mmavs.apis.inferencer.configs import eval_dataset_class, load_config
from mmavs.apis.inferencer.preflight import check_device
from mmavs.apis.inferencer.outputs import mask_image, prediction_to_frame
from mmavs.apis.inferencer.sampling import (FrameSample, FrameSampler,
                                            parse_fps, window_centre,
                                            window_of)
from mmavs.apis.inferencer.sources import (
    array_source, check_min_duration, frame_folder_source,
    infer_frame_rate, list_frame_files, load_source, natural_key, video_source)
from mmavs.datasets.errors import VideoReadError
from mmavs.testing.inputs import frames_at, make_source, regular, tone_track

SR = 16000


def sample_all(frames, fps, nominal=None):
    sampler = FrameSampler(iter(frames), fps, nominal, record=True)
    return sampler, list(sampler)


# ---------------------------------------------------------------------------
# sampling
# ---------------------------------------------------------------------------
def test_parse_fps():
    assert parse_fps('2.5') == 2.5
    assert parse_fps(3) == 3.0 and isinstance(parse_fps(3), float)
    assert parse_fps(0.25) == 0.25
    assert parse_fps('1e-1') == pytest.approx(0.1)
    assert parse_fps('ALL') == 'all'
    assert parse_fps(' all ') == 'all'
    # numpy scalars, as a frame rate read from an array would be.
    assert parse_fps(np.int64(2)) == 2.0
    assert parse_fps(np.float32(0.5)) == 0.5
    for bad in (0, -1, 'x', float('inf'), 'inf', float('nan'), True, None, '',
                '0', '-2', [1], np.bool_(True)):
        with pytest.raises(ValueError, match='fps must be'):
            parse_fps(bad)


def test_windows():
    assert window_centre(0, 1) == 0.5
    assert window_centre(2, 0.5) == 5.0
    assert window_centre(1, 4) == 0.375
    for fps in (0.5, 1, 3):
        for k in range(10):
            assert window_of(window_centre(k, fps), fps) == k
    assert window_of(-0.1, 1) == 0
    assert window_of(0.999, 1) == 0
    assert window_of(1.0, 1) == 1
    assert window_of(1.99, 0.5) == 0 and window_of(2.0, 0.5) == 1
    assert isinstance(window_of(2.7, 1), int)


def test_sampler_one_fps():
    """AVSBench sampling: the frame on screen mid-second."""
    frames = regular(32, 10)  # 3.2 s at 10 fps
    sampler = FrameSampler(iter(frames), '1', 10, record=True)
    assert sampler.fps == 1.0
    assert sampler.duration is None and sampler.num_frames == 0
    samples = list(sampler)
    assert [s.index for s in samples] == [0, 1, 2]
    assert [s.frame_index for s in samples] == [5, 15, 25]
    np.testing.assert_allclose([s.time for s in samples], [0.5, 1.5, 2.5])
    np.testing.assert_allclose([s.centre for s in samples], [0.5, 1.5, 2.5])
    # The yielded samples carry the pictures (frame i is filled with i)...
    assert [int(s.image[0, 0, 0]) for s in samples] == [5, 15, 25]
    assert samples[0].image is frames[5].image
    assert all(s.shape == (4, 6) for s in samples)
    # ... the record does not.
    assert sampler.duration == pytest.approx(3.2)
    assert sampler.num_frames == 32
    assert [s.image for s in sampler.samples] == [None] * 3
    assert [(s.index, s.frame_index, s.centre, s.shape)
            for s in sampler.samples] == [(0, 5, 0.5, (4, 6)),
                                          (1, 15, 1.5, (4, 6)),
                                          (2, 25, 2.5, (4, 6))]


def test_sampler_two_fps_takes_the_frame_on_screen():
    # 2.2 s at 10 fps, 2 windows per second: centres 0.25 ... 1.75.
    sampler, samples = sample_all(regular(22, 10), 2)
    assert [s.frame_index for s in samples] == [2, 7, 12, 17]
    np.testing.assert_allclose([s.centre for s in samples],
                               [0.25, 0.75, 1.25, 1.75])


def test_sampler_every_frame():
    # Irregular times; the last frame carries no duration: nominal rate.
    times = [0.0, 0.1, 0.3, 0.6]
    sampler, samples = sample_all(frames_at(times), 'all', nominal=10)
    assert sampler.fps == 'all'
    assert [s.frame_index for s in samples] == [0, 1, 2, 3]
    assert [s.index for s in samples] == [0, 1, 2, 3]
    np.testing.assert_allclose([s.time for s in samples], times)
    np.testing.assert_allclose([s.centre for s in samples],
                               [0.05, 0.2, 0.45, 0.65])
    assert sampler.duration == pytest.approx(0.7)
    # No nominal rate: 0.04 s.
    sampler, samples = sample_all(frames_at(times), 'all')
    assert samples[-1].centre == pytest.approx(0.62)
    assert sampler.duration == pytest.approx(0.64)
    # The frame's own duration wins over the nominal rate.
    sampler, samples = sample_all(
        frames_at(times, [None, None, None, 0.2]), 'all', nominal=10)
    assert samples[-1].centre == pytest.approx(0.7)
    assert sampler.duration == pytest.approx(0.8)
    # A 1 fps frame folder: 'all' pairs like fps=1.
    _, every = sample_all(regular(4, 1), 'all')
    _, once = sample_all(regular(4, 1), 1)
    assert [s.centre for s in every] == [s.centre for s in once] == \
        [0.5, 1.5, 2.5, 3.5]
    # A single frame.
    sampler, samples = sample_all(regular(1, 2), 'all')
    assert [s.centre for s in samples] == [0.25]
    assert sampler.duration == 0.5 and sampler.num_frames == 1


def test_sampler_late_first_frame():
    """Windows before the first frame show the first frame."""
    frames = regular(20, 10, first=12)  # 1.2 s ... 3.1 s
    sampler, samples = sample_all(frames, 1)
    assert [s.frame_index for s in samples] == [0, 3, 13]
    np.testing.assert_allclose([s.time for s in samples], [1.2, 1.5, 2.5])
    np.testing.assert_allclose([s.centre for s in samples], [0.5, 1.5, 2.5])
    assert sampler.duration == pytest.approx(3.2)
    # Starting after two windows.
    _, samples = sample_all(regular(10, 10, first=25), 1)  # 2.5 ... 3.4 s
    assert [s.frame_index for s in samples] == [0, 0, 0]
    np.testing.assert_allclose([s.centre for s in samples], [0.5, 1.5, 2.5])


def test_sampler_low_fps_keeps_one_sample():
    # 2 s at 0.2 fps: the first centre (2.5 s) is after the end.
    sampler, samples = sample_all(regular(20, 10), 0.2)
    assert len(samples) == 1
    assert samples[0].frame_index == 19
    assert samples[0].time == pytest.approx(1.9)
    assert samples[0].centre == pytest.approx(2.5)
    assert sampler.duration == pytest.approx(2.0)
    assert sampler.num_frames == 20
    # 0.4 fps: one centre (1.25 s) inside, the next (3.75 s) outside.
    _, samples = sample_all(regular(20, 10), 0.4)
    assert [s.frame_index for s in samples] == [12]


def test_sampler_variable_frame_rate():
    times = [0.0, 0.3, 0.4, 1.7, 1.75, 2.6]
    sampler, samples = sample_all(frames_at(times), 2)
    # Last frame: 0.04 s, the video ends at 2.64 s; 2.75 is past it.
    assert sampler.duration == pytest.approx(2.64)
    np.testing.assert_allclose([s.centre for s in samples],
                               [0.25, 0.75, 1.25, 1.75, 2.25])
    # Frame 2 stays on screen from 0.4 to 1.7 s: it represents two
    # windows; frame 4 starts exactly at a centre.
    assert [s.frame_index for s in samples] == [0, 2, 2, 4, 4]
    assert [s.index for s in samples] == [0, 1, 2, 3, 4]
    np.testing.assert_allclose([s.time for s in samples],
                               [0.0, 0.4, 0.4, 1.75, 1.75])
    # With a nominal rate of 2 the last frame lasts 0.5 s: one more window.
    sampler, samples = sample_all(frames_at(times), 2, nominal=2)
    assert sampler.duration == pytest.approx(3.1)
    assert [s.frame_index for s in samples] == [0, 2, 2, 4, 4, 5]
    # fps above the frame rate repeats frames.
    _, samples = sample_all(regular(3, 2), 4)
    assert [s.frame_index for s in samples] == [0, 0, 1, 1, 2, 2]


def test_sampler_empty_and_bad_fps():
    sampler, samples = sample_all([], 1)
    assert samples == [] and sampler.samples == []
    assert sampler.duration is None and sampler.num_frames == 0
    sampler, samples = sample_all([], 'all')
    assert samples == [] and sampler.duration is None
    with pytest.raises(ValueError, match='fps'):
        FrameSampler(iter([]), 0, None)


# ---------------------------------------------------------------------------
# batching
# ---------------------------------------------------------------------------
BLACK = np.zeros((2, 3, 3), np.uint8)
META = dict(img_shape=(2, 3), scale_factor=(0.5, 0.5))


def stub_batcher(num_frames, stride, batch_size, meta=None):
    return ClipBatcher(
        num_frames,
        stride,
        batch_size,
        pack=lambda results: dict(results),
        collate=list,
        clip_meta=META if meta is None else meta,
        black=BLACK,
        name='clip')


def image(i):
    return np.full((2, 3, 3), 10 + i, np.uint8)


def example(i):
    return np.full((1, 4), i, np.float32)


def feed(batcher, count):
    """Add samples 0..count-1; returns [(sample added, batch)] and the
    batches of finish() (marked -1)."""
    out = []
    for i in range(count):
        out += [(i, batch) for batch in batcher.add(i, image(i), example(i))]
    out += [(-1, batch) for batch in batcher.finish()]
    return out


def test_clip_batcher_consecutive_clips():
    meta = dict(META)
    batcher = stub_batcher(3, 1, 2, meta)
    out = feed(batcher, 7)
    # The second full clip completes the first batch (at sample 5); the
    # padded last clip is flushed by finish() in a smaller batch.
    assert [when for when, _ in out] == [5, -1]
    first, last = out[0][1], out[1][1]
    assert isinstance(first, ClipBatch)
    assert first.slots == [[0, 1, 2], [3, 4, 5]]
    assert last.slots == [[6, -1, -1]]
    assert len(first.data) == 2 and len(last.data) == 1
    assert batcher.num_clips == 3
    clips = first.data + last.data
    assert [c['sample_idx'] for c in clips] == [0, 1, 2]
    assert [c['frame_valid'] for c in clips] == [[1, 1, 1], [1, 1, 1],
                                                 [1, 0, 0]]
    for clip in clips:
        assert clip['num_frames'] == 3 and clip['clip_name'] == 'clip'
        assert clip['img_shape'] == clip['ori_shape'] == (2, 3)
        assert clip['scale_factor'] == (0.5, 0.5)
        assert clip['audio'].shape == (3, 1, 4)
    assert [int(i[0, 0, 0]) for i in clips[1]['imgs']] == [13, 14, 15]
    # Padding: black frames, the last real example repeated.
    pad = clips[2]
    assert int(pad['imgs'][0][0, 0, 0]) == 16
    assert pad['imgs'][1] is BLACK and pad['imgs'][2] is BLACK
    np.testing.assert_array_equal(pad['audio'][:, 0, 0], [6, 6, 6])
    np.testing.assert_array_equal(clips[0]['audio'][:, 0, 0], [0, 1, 2])
    assert meta == META  # the clip meta is copied, not updated


@pytest.mark.parametrize('count', [6, 9, 10])
def test_clip_batcher_interleaves_like_deal_clips(count):
    stride, num_frames = 2, 3
    batcher = stub_batcher(num_frames, stride, 1)
    out = feed(batcher, count)
    slots = [clip for _, batch in out for clip in batch.slots]
    expected = []
    for start in range(0, count, stride * num_frames):
        block = min(stride * num_frames, count - start)
        expected += [[start + p if p >= 0 else -1 for p in clip]
                     for clip in deal_clips(block, stride, num_frames)]
    assert slots == expected
    # Full blocks are dealt as soon as they are complete.
    assert [when for when, _ in out][:2] == [5, 5]
    assert slots[:2] == [[0, 2, 4], [1, 3, 5]]
    clips = [clip for _, batch in out for clip in batch.data]
    assert [c['sample_idx'] for c in clips] == list(range(len(slots)))
    for clip, slot in zip(clips, slots):
        real = [s for s in slot if s >= 0]
        assert clip['frame_valid'] == [1] * len(real) + [0] * (3 - len(real))
        np.testing.assert_array_equal(clip['audio'][:, 0, 0],
                                      real + [real[-1]] * (3 - len(real)))
        assert [int(i[0, 0, 0]) for i in clip['imgs'][:len(real)]] == \
            [10 + s for s in real]
        assert all(i is BLACK for i in clip['imgs'][len(real):])
    if count == 9:
        assert slots[2:] == [[6, 8, -1], [7, -1, -1]]
    if count == 10:
        assert slots[2:] == [[6, 8, -1], [7, 9, -1]]


def test_clip_batcher_batch_sizes():
    # 11 clips of 1 frame, 4 per batch: 4, 4, then 3 at the end.
    batcher = stub_batcher(1, 1, 4)
    out = feed(batcher, 11)
    assert [when for when, _ in out] == [3, 7, -1]
    assert [len(batch.data) for _, batch in out] == [4, 4, 3]
    assert out[2][1].slots == [[8], [9], [10]]
    # Exactly full batches leave nothing for finish().
    assert [when for when, _ in feed(stub_batcher(1, 1, 2), 4)] == [1, 3]
    # Nothing added: nothing out.
    assert list(stub_batcher(5, 1, 1).finish()) == []
    for bad in (0, -1):
        with pytest.raises(ValueError, match='batch_size must be >= 1'):
            stub_batcher(5, 1, bad)


def test_in_order():
    in_order = InOrder()
    # Clips of interleaved samples: 0 2 4 | 1 3 (pad).
    first = ClipBatch({}, [[0, 2, 4]])
    second = ClipBatch({}, [[1, 3, -1]])
    assert list(in_order.put(first, ['p0', 'p2', 'p4'])) == [(0, 'p0')]
    assert in_order.next_index == 1
    with pytest.raises(RuntimeError, match='2 predictions were not emitted'):
        in_order.check_complete()
    assert list(in_order.put(second, ['p1', 'p3', 'pad'])) == [(1, 'p1'),
                                                               (2, 'p2'),
                                                               (3, 'p3'),
                                                               (4, 'p4')]
    assert in_order.num_padded == 1 and in_order.next_index == 5
    in_order.check_complete()
    # Several clips in one batch, clip major.
    in_order = InOrder()
    batch = ClipBatch({}, [[1, -1], [0, -1]])
    assert list(in_order.put(batch, ['a', 'x', 'b', 'y'])) == [(0, 'b'),
                                                               (1, 'a')]
    assert in_order.num_padded == 2
    # A skipped index keeps later predictions waiting.
    in_order = InOrder()
    assert list(in_order.put(ClipBatch({}, [[0, 2, 3]]), 'abc')) == [(0, 'a')]
    with pytest.raises(RuntimeError, match='2 predictions'):
        in_order.check_complete()


def test_split_test_pipeline():
    pipeline_cfg = [
        dict(type='LoadAVSFrames'),
        dict(
            type='ClipTransform',
            transforms=[dict(type='Resize', scale=(8, 6), keep_ratio=False)]),
        dict(type='LoadAVSAnnotations'),
        dict(type='mmseg.LoadAVSAudio'),
        dict(type='PackAVSInputs')
    ]
    cfg = Config(
        dict(
            test_dataloader=dict(dataset=dict(pipeline=pipeline_cfg)),
            test_pipeline=[dict(type='PackAVSInputs')]))
    pipeline, per_frame, pack = split_test_pipeline(cfg)
    # The data set's pipeline wins over test_pipeline; loaders dropped.
    assert [type(t).__name__ for t in pipeline.transforms
            ] == ['ClipTransform', 'PackAVSInputs']
    assert [type(t).__name__
            for t in per_frame.transforms] == ['ClipTransform']
    assert type(pack).__name__ == 'PackAVSInputs'
    assert pipeline.transforms[-1] is pack
    assert pipeline.transforms[0] is per_frame.transforms[0]
    assert len(cfg.test_dataloader.dataset.pipeline) == 5  # not mutated
    results = per_frame(
        dict(
            imgs=[np.zeros((4, 5, 3), np.uint8)],
            img_shape=(4, 5),
            ori_shape=(4, 5),
            num_frames=1,
            clip_name='a',
            frame_valid=[1]))
    assert results['imgs'][0].shape == (6, 8, 3)
    assert results['img_shape'] == (6, 8)
    # test_pipeline when there is no test data set.
    pipeline, per_frame, pack = split_test_pipeline(
        Config(dict(test_pipeline=pipeline_cfg[:1] + pipeline_cfg[-1:])))
    assert len(pipeline.transforms) == 1 and per_frame.transforms == []
    assert type(pack).__name__ == 'PackAVSInputs'


def halve(results):
    """A per-frame pipeline stub: halves the frame, records its scale."""
    image = results['imgs'][0][::2, ::2]
    return dict(
        results, imgs=[image], img_shape=image.shape[:2],
        scale_factor=(0.5, 0.5))


def test_transform_frame():
    frame = np.full((4, 6, 3), 7, np.uint8)
    results = transform_frame(halve, frame, 'video')
    assert results['imgs'][0].shape == (2, 3, 3)
    assert results['img_shape'] == (2, 3) and results['ori_shape'] == (4, 6)
    assert results['clip_name'] == 'video' and results['frame_valid'] == [1]
    with pytest.raises(ValueError, match='dropped a frame'):
        transform_frame(lambda results: None, frame, 'video')


def test_batch_samples_transforms_and_pads():
    """Samples go through the per-frame pipeline as they arrive; the last
    clip is padded with the transformed black frame."""
    samples = [
        FrameSample(i, i, float(i), i + 0.5, np.full((4, 6, 3), 10 + i,
                                                     np.uint8), (4, 6))
        for i in range(4)
    ]
    batches = list(
        batch_samples(
            iter(samples),
            lambda sample: example(sample.index),
            halve,
            'video',
            num_frames=3,
            stride=1,
            batch_size=2,
            pack=dict,
            collate=list))
    assert len(batches) == 1 and batches[0].slots == [[0, 1, 2], [3, -1, -1]]
    first, last = batches[0].data
    assert [int(i[0, 0, 0]) for i in first['imgs']] == [10, 11, 12]
    assert [i.shape for i in last['imgs']] == [(2, 3, 3)] * 3
    assert [int(i.max()) for i in last['imgs']] == [13, 0, 0]
    # What a clip shares comes from the transformed frame ...
    assert first['img_shape'] == first['ori_shape'] == (2, 3)
    assert first['scale_factor'] == (0.5, 0.5)
    assert first['clip_name'] == 'video' and first['num_frames'] == 3
    # ... and padding repeats the last real audio example.
    np.testing.assert_array_equal(last['audio'][:, 0, 0], [3, 3, 3])
    assert last['frame_valid'] == [1, 0, 0]
    assert list(batch_samples(iter([]), None, halve, 'video')) == []


def test_sampler_facts():
    sampler = FrameSampler(iter(regular(25, 10)), 2, 10)
    assert sampler.facts()['frame_size'] == (0, 0)  # before it ran
    assert [s.frame_index for s in sampler] == [2, 7, 12, 17, 22]
    facts = sampler.facts()
    assert facts == dict(frame_size=(4, 6), duration=pytest.approx(2.5),
                         num_video_frames=25, fps=2.0)
    # A long video leaves no record behind unless asked.
    assert sampler.samples is None and sampler.num_samples == 5


def test_load_config_and_eval_dataset_class(tmp_path):
    from mmavs.datasets import AVSBenchS4Dataset
    cfg = load_config('avsegformer_r50_1xb4-30e_avsbench-s4-224x224')
    assert isinstance(cfg, Config)
    assert eval_dataset_class(cfg) is AVSBenchS4Dataset
    path = tmp_path / 'tiny.py'
    path.write_text('x = 1\n')
    assert load_config(str(path)).x == 1
    assert load_config(path).x == 1
    given = Config(dict(x=2))
    assert load_config(given) is given and load_config(None) is None
    with pytest.raises(ValueError, match='did you mean'):
        load_config('avsegformer_r50_1xb4-30e_avsbench-s4')
    assert eval_dataset_class(Config(dict(x=1))) is None


def test_check_device(monkeypatch):
    check_device(None)
    check_device('cpu')
    with pytest.raises(ValueError, match="'gpu' is not a device name"):
        check_device('gpu')
    with pytest.raises(ValueError, match="'cuda:x' is not a device name"):
        check_device('cuda:x')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    with pytest.raises(ValueError, match="device='cuda:1' but CUDA"):
        check_device('cuda:1')
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: 2)
    check_device('cuda:1')
    with pytest.raises(ValueError, match="'cuda:2' but this machine has 2"):
        check_device('cuda:2')


def test_split_test_pipeline_errors():
    with pytest.raises(ValueError, match='no test pipeline'):
        split_test_pipeline(Config(dict()))
    with pytest.raises(ValueError, match='no test pipeline'):
        split_test_pipeline(Config(dict(test_pipeline=[])))
    with pytest.raises(ValueError, match='must end with PackAVSInputs'):
        split_test_pipeline(
            Config(
                dict(test_pipeline=[
                    dict(type='LoadAVSFrames'),
                    dict(type='LoadAVSAudio')
                ])))
    with pytest.raises(
            ValueError,
            match=r"must end with PackAVSInputs; got "
            r"\['PackAVSInputs', 'ClipTransform'\]"):
        split_test_pipeline(
            Config(
                dict(test_pipeline=[
                    dict(type='PackAVSInputs'),
                    dict(type='ClipTransform', transforms=[])
                ])))


# ---------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------
def test_array_source_channel_order():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (2, 4, 5, 3), dtype=np.uint8)
    wave = np.zeros(2 * SR, np.float32)
    item = dict(frames=frames, audio=wave, sample_rate=SR, frame_rate=1)
    bgr = array_source(item, position=3)
    assert (bgr.name, bgr.source, bgr.kind) == ('array3', '<array>', 'arrays')
    assert bgr.label == 'array3'
    assert bgr.frame_rate == 1.0 and bgr.declared_frames == 2
    assert bgr.declared_duration == 2.0 and bgr.examples is None
    assert bgr.audio.samples.shape == (1, 2 * SR)
    assert bgr.audio.samples.dtype == np.float32
    assert (bgr.audio.sample_rate, bgr.audio.layout) == (SR, 'mono')
    got = list(bgr.frames())
    assert [(f.index, f.time, f.duration) for f in got] == [(0, 0.0, 1.0),
                                                            (1, 1.0, 1.0)]
    np.testing.assert_array_equal(got[1].image, frames[1])
    rgb = array_source(dict(item, channel_order='rgb', name='mine'))
    assert rgb.name == 'mine'
    for frame, original in zip(rgb.frames(), frames):
        np.testing.assert_array_equal(frame.image, original[..., ::-1])
        np.testing.assert_array_equal(frame.image[..., 0], original[..., 2])
    # A fresh pass each call.
    assert len(list(rgb.frames())) == 2
    # A list of frames, a stereo waveform [S, C]; a single [H, W, 3] frame.
    stereo = array_source(
        dict(
            frames=list(frames),
            audio=np.zeros((SR, 2)),
            sample_rate=SR,
            frame_rate=2))
    assert stereo.audio.samples.shape == (2, SR)
    assert stereo.audio.layout == 'stereo'
    one = array_source(dict(frames=frames[0], audio=wave, sample_rate=SR))
    assert one.declared_frames == 1 and one.frame_rate == 0.5
    with pytest.raises(ValueError, match="channel_order must be 'bgr'"):
        array_source(dict(item, channel_order='gbr'))


def test_array_source_timestamps():
    frames = np.zeros((3, 4, 4, 3), np.uint8)
    item = dict(frames=frames, audio=np.zeros(3 * SR), sample_rate=SR)
    source = array_source(dict(item, timestamps=[0.0, 0.5, 1.5]))
    assert source.frame_rate == pytest.approx(2 / 1.5)
    got = list(source.frames())
    np.testing.assert_allclose([f.time for f in got], [0.0, 0.5, 1.5])
    np.testing.assert_allclose([f.duration for f in got], [0.5, 1.0, 0.75])
    assert source.declared_duration == pytest.approx(2.25)
    for bad in ([0.0, 0.0, 1.0], [0.0, 1.0, 0.5], [0.0, 1.0], [[0.0, 1.0,
                                                                2.0]]):
        with pytest.raises(
                ValueError, match='timestamps must be 3 increasing times'):
            array_source(dict(item, timestamps=bad))


def test_array_source_rejects_bad_arrays():
    wave = np.zeros(SR, np.float32)
    with pytest.raises(ValueError, match=r'a: frames must be uint8.*float32'):
        array_source(
            dict(
                frames=np.zeros((2, 4, 4, 3), np.float32),
                audio=wave,
                sample_rate=SR,
                name='a'))
    with pytest.raises(ValueError, match='one size'):
        array_source(
            dict(
                frames=[
                    np.zeros((4, 4, 3), np.uint8),
                    np.zeros((4, 5, 3), np.uint8)
                ],
                audio=wave,
                sample_rate=SR))
    with pytest.raises(ValueError, match='one size'):
        array_source(
            dict(
                frames=np.zeros((2, 4, 4), np.uint8),
                audio=wave,
                sample_rate=SR))
    with pytest.raises(VideoReadError, match='array0: no frames'):
        array_source(dict(frames=[], audio=wave, sample_rate=SR))
    frames = np.zeros((2, 4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match='b: a waveform needs sample_rate'):
        array_source(dict(frames=frames, audio=wave, name='b'))
    with pytest.raises(ValueError, match=r'audio must be a waveform'):
        array_source(dict(frames=frames, audio=np.zeros((2, 3, 4))))
    with pytest.raises(ValueError, match='frame_rate must be positive'):
        array_source(
            dict(frames=frames, audio=wave, sample_rate=SR, frame_rate=0))
    with pytest.raises(ValueError, match='c: a waveform needs sample_rate '
                       '> 0, got 0'):
        array_source(dict(frames=frames, audio=wave, sample_rate=0, name='c'))
    bad_wave = wave.copy()
    bad_wave[SR // 2] = np.nan
    with pytest.raises(ValueError, match=r'd: the audio holds 1 NaN or '
                       r'infinite samples \(the first at 0.500 s\)'):
        array_source(
            dict(frames=frames, audio=bad_wave, sample_rate=SR, name='d'))
    examples = np.zeros((2, 1, 96, 64), np.float32)
    examples[1, 0, 3, 4] = np.inf
    with pytest.raises(ValueError, match='e: the log-mel examples hold NaN'):
        array_source(dict(frames=frames, audio=examples, name='e'))
    # name=None (the documented default) falls back to the position.
    assert array_source(
        dict(frames=frames, audio=wave, sample_rate=SR, name=None),
        position=3).name == 'array3'


def test_array_source_log_mel_examples():
    frames = np.zeros((2, 4, 4, 3), np.uint8)
    examples = np.arange(2 * 96 * 64, dtype=np.float64).reshape(2, 1, 96, 64)
    source = array_source(dict(frames=frames, audio=examples, frame_rate=4))
    assert source.audio is None
    assert source.examples.dtype == np.float32
    np.testing.assert_array_equal(source.examples, examples)
    assert source.frame_rate == 4.0 and source.declared_duration == 0.5
    with pytest.raises(
            ValueError, match='c: 3 log-mel examples for 2 '
            'frames'):
        array_source(
            dict(
                frames=frames,
                audio=np.zeros((3, 1, 96, 64)),
                frame_rate=1,
                name='c'))
    with pytest.raises(ValueError, match='give frame_rate or timestamps'):
        array_source(dict(frames=frames, audio=examples))
    # Timestamps give the rate.
    source = array_source(
        dict(frames=frames, audio=examples, timestamps=[1.0, 1.25]))
    assert source.frame_rate == 4.0
    assert source.declared_duration == 1.5


def test_infer_frame_rate():
    assert infer_frame_rate(None, 5, tone_track(5.02), 'x') == 1.0
    assert isinstance(infer_frame_rate(None, 5, tone_track(5.02), 'x'), float)
    assert infer_frame_rate(None, 5, tone_track(4.0), 'x') == 1.25
    assert infer_frame_rate(None, 299, tone_track(10.0), 'x') == 30.0
    assert infer_frame_rate(None, 2, tone_track(5.0),
                            'x') == pytest.approx(0.4)
    assert infer_frame_rate(None, 10, tone_track(4.0), 'x') == 2.5
    assert infer_frame_rate(2.5, 5, None, 'x') == 2.5
    assert infer_frame_rate(3, 5, tone_track(9.0), 'x') == 3.0
    for bad in (0, -1):
        with pytest.raises(
                ValueError, match='clip: frame_rate must be positive'):
            infer_frame_rate(bad, 5, tone_track(5.0), 'clip')
    with pytest.raises(ValueError, match='clip: give frame_rate'):
        infer_frame_rate(None, 5, None, 'clip')


def test_check_min_duration():
    with pytest.raises(
            VideoReadError,
            match=r'^clip\.mp4: the video is 0\.50 s long, shorter than '
            r'one 0\.96 s audio window$'):
        check_min_duration('clip.mp4', 'video', 0.5)
    with pytest.raises(VideoReadError, match='x: the sound track is 0.95 s'):
        check_min_duration('x', 'sound track', 0.955)
    check_min_duration('x', 'video', None)
    check_min_duration('x', 'video', 0.96)
    check_min_duration('x', 'video', 100.0)


def test_declared_lengths_and_expected_samples():
    source = make_source([], audio=tone_track(3.2), rate=10)
    source.declared_duration, source.declared_frames = 3.2, 32
    source.check_declared_lengths()
    assert source.expected_samples(1.0) == 3
    assert source.expected_samples(2.5) == 8
    assert source.expected_samples('all') == 32
    source.declared_frames = None
    assert source.expected_samples('all') == 32  # 3.2 s * 10 fps
    source.frame_rate = None
    assert source.expected_samples('all') is None
    assert source.expected_samples(1.0) == 3
    # As many as the sampler yields: centres (k + 0.5) s before the end,
    # and always one.
    source.declared_duration = 3.5
    assert source.expected_samples(1.0) == 3
    source.declared_duration = 0.2
    assert source.expected_samples(1.0) == 1
    source.declared_duration = None
    assert source.expected_samples(1.0) is None
    short = make_source([], audio=tone_track(0.5), name='short')
    short.declared_duration = 2.0
    with pytest.raises(
            VideoReadError, match=r'short: the sound track is 0\.50 s long'):
        short.check_declared_lengths()
    short.audio, short.declared_duration = None, 0.9
    with pytest.raises(VideoReadError, match=r'short: the video is 0\.90 s'):
        short.check_declared_lengths()


def test_check_sound():
    # Sound that ends early, named by the path of a video.
    source = make_source([], audio=tone_track(1.0), kind='video', name='v')
    with pytest.warns(UserWarning) as record:
        assert source.check_sound(2.0) is False
    assert [str(w.message) for w in record] == [
        '/videos/v.mp4: the sound ends at 1.00 s, the video at 2.00 s; '
        'later frames hear silence'
    ]
    # Within half a second of the end, or no duration: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert source.check_sound(1.5) is False
        assert source.check_sound(None) is False
        assert make_source([]).check_sound(2.0) is False  # no audio
    # Silence (peak below -80 dBFS), named by the array's name.
    quiet = make_source([], audio=tone_track(2.0, amplitude=5e-5), name='q')
    with pytest.warns(UserWarning, match='q: the sound track is silent') \
            as record:
        assert quiet.check_sound(2.0) is True
    assert len(record) == 1
    # Both at once.
    quiet.audio = tone_track(1.0, amplitude=0.0)
    with pytest.warns(UserWarning) as record:
        assert quiet.check_sound(3.0) is True
    assert len(record) == 2
    assert 'later frames hear silence' in str(record[0].message)
    assert 'silent' in str(record[1].message)
    # A track that starts late ends later.
    late = make_source([], audio=tone_track(1.0, start=1.0))
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert late.check_sound(2.0) is False


def test_natural_key():
    names = ['frame10.png', 'frame2.png', 'Frame1.png', 'frame02b.png', 'a']
    assert sorted(
        names, key=natural_key) == [
            'a', 'Frame1.png', 'frame2.png', 'frame02b.png', 'frame10.png'
        ]
    assert natural_key('img_12.JPG') == ['img_', 12, '.jpg']


@pytest.fixture
def frame_folder(tmp_path):
    """frame1, frame2, frame10 and FRAME3 (.PNG), pixel value = number,
    a 4 s wav and a text file."""
    folder = tmp_path / 'clip'
    folder.mkdir()
    for number, ext in ((10, '.png'), (2, '.png'), (1, '.png'), (3, '.PNG')):
        cv2.imwrite(
            str(folder / f'frame{number}{ext}'),
            np.full((6, 8, 3), number, np.uint8))
    soundfile.write(str(folder / 'sound.wav'), tone_track(4.0).samples[0], SR)
    (folder / 'notes.txt').write_text('not a frame')
    return folder


@pytest.mark.usefixtures('needs_av')
def test_frame_folder_source(frame_folder):
    folder = str(frame_folder)
    assert [osp.basename(p) for p in list_frame_files(folder)
            ] == ['frame1.png', 'frame2.png', 'frame3.PNG', 'frame10.png']
    source = frame_folder_source(folder)
    assert (source.name, source.kind, source.source) == ('clip', 'frames',
                                                         folder)
    assert source.label == folder
    # 4 frames, 4 s of sound: 1 fps.
    assert source.frame_rate == 1.0
    assert source.declared_frames == 4 and source.declared_duration == 4.0
    assert source.audio.duration == pytest.approx(4.0)
    frames = list(source.frames())
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 3, 10]
    assert [(f.index, f.time, f.duration) for f in frames] == [(0, 0.0, 1.0),
                                                               (1, 1.0, 1.0),
                                                               (2, 2.0, 1.0),
                                                               (3, 3.0, 1.0)]
    assert frames[0].image.shape == (6, 8, 3)
    # Given sound, rate and name; through load_source with a dict.
    given = load_source(
        dict(
            frames=frame_folder,
            audio=frame_folder / 'sound.wav',
            frame_rate=2,
            name='n'))
    assert given.name == 'n' and given.frame_rate == 2.0
    assert given.declared_duration == 2.0
    assert [f.time for f in given.frames()] == [0.0, 0.5, 1.0, 1.5]
    # A folder path (PathLike) is a frame folder.
    assert load_source(frame_folder).kind == 'frames'


@pytest.mark.usefixtures('needs_av')
def test_frame_folder_errors(frame_folder, tmp_path):
    folder = str(frame_folder)
    (frame_folder / 'sound.wav').rename(frame_folder / 'a.wav')
    soundfile.write(str(frame_folder / 'b.flac'), np.zeros(SR), SR)
    with pytest.raises(
            VideoReadError,
            match=re.escape(folder) + r': a frame folder needs exactly one '
            r'sound file \(found a\.wav, b\.flac\)'):
        frame_folder_source(folder)
    (frame_folder / 'a.wav').unlink()
    (frame_folder / 'b.flac').unlink()
    with pytest.raises(
            VideoReadError, match=re.escape(folder) + r': .*\(found none\)'):
        frame_folder_source(folder)
    empty = tmp_path / 'empty'
    empty.mkdir()
    with pytest.raises(
            VideoReadError,
            match=re.escape(str(empty)) +
            ': the folder holds no frame images'):
        frame_folder_source(str(empty))
    # Frames of different sizes: raised while iterating, naming the file.
    cv2.imwrite(str(frame_folder / 'frame4.png'), np.zeros((4, 8, 3)))
    soundfile.write(str(tmp_path / 'x.wav'), np.zeros(5 * SR), SR)
    source = frame_folder_source(folder, audio=str(tmp_path / 'x.wav'))
    assert source.declared_frames == 5
    frames = source.frames()
    assert next(frames).index == 0
    with pytest.raises(
            VideoReadError,
            match=re.escape(osp.join(folder, 'frame4.png')) +
            r': frame is \(4, 8\) \(H, W\), the first frame of .* is '
            r'\(6, 8\)'):
        list(frames)


@pytest.mark.usefixtures('needs_av')
def test_load_source_dispatch(helpers, tmp_path):
    path = helpers.write_test_video(tmp_path / 'short.mp4', seconds=1.2)
    source = video_source(path)
    assert (source.name, source.kind, source.source) == ('short', 'video',
                                                         path)
    assert source.label == path
    assert source.frame_rate == pytest.approx(10)
    assert source.declared_frames == 12
    assert source.declared_duration == pytest.approx(1.2, abs=0.05)
    assert source.audio.sample_rate == SR
    assert source.audio.duration == pytest.approx(1.2, abs=0.1)
    # Every call decodes afresh.
    assert len(list(source.frames())) == len(list(source.frames())) == 12
    renamed = load_source(dict(video=tmp_path / 'short.mp4', name='other'))
    assert renamed.name == 'other' and renamed.kind == 'video'
    assert load_source(dict(video=tmp_path / 'short.mp4',
                            name=None)).name == source.name
    arrays = load_source(
        dict(
            frames=np.zeros((2, 4, 4, 3), np.uint8),
            audio=np.zeros(SR),
            sample_rate=SR),
        position=7)
    assert arrays.name == 'array7' and arrays.kind == 'arrays'
    with pytest.raises(TypeError, match='got int'):
        load_source(3)
    with pytest.raises(ValueError, match=r"got keys \['frames'\]"):
        load_source(dict(frames=np.zeros((2, 4, 4, 3), np.uint8)))
    tiny = helpers.write_test_video(tmp_path / 'tiny.mp4', seconds=0.5)
    with pytest.raises(
            VideoReadError, match=r'tiny\.mp4: the video is 0\.50 s long'):
        video_source(tiny)


# ---------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------
def fake_pred(logits):
    return SimpleNamespace(
        seg_logits=SimpleNamespace(
            data=torch.tensor(logits, dtype=torch.float32)))


def logit(p):
    return np.log(p / (1 - p))


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_prediction_to_frame_binary():
    probs = np.array([[[0.2, 0.8], [0.6, 0.4]]])
    mask, score = prediction_to_frame(fake_pred(probs), (2, 2))
    assert mask.dtype == np.uint8 and score.dtype == np.float16
    np.testing.assert_array_equal(mask, [[0, 1], [1, 0]])
    np.testing.assert_allclose(score, probs[0], atol=1e-3)
    mask, _ = prediction_to_frame(fake_pred(probs), (2, 2), threshold=0.7)
    np.testing.assert_array_equal(mask, [[0, 1], [0, 0]])
    mask, _ = prediction_to_frame(fake_pred(probs), (2, 2), threshold=0.0)
    np.testing.assert_array_equal(mask, [[1, 1], [1, 1]])
    # Resized as logits (mmseg's order), bilinear, align_corners=False:
    # corners keep their value, (1, 1) is 3/4, 1/4 of the way.
    mask, score = prediction_to_frame(fake_pred(probs), (4, 4))
    assert mask.shape == score.shape == (4, 4)
    score = score.astype(np.float64)
    np.testing.assert_allclose(
        [score[0, 0], score[0, 3], score[3, 0], score[3, 3]],
        [0.2, 0.8, 0.6, 0.4],
        atol=1e-3)
    weights = np.array([[9, 3], [3, 1]]) / 16
    expected = sigmoid((weights * logit(probs[0])).sum())
    assert expected == pytest.approx(0.3849, abs=1e-3)
    assert score[1, 1] == pytest.approx(expected, abs=1e-3)
    assert abs(score[1, 1] - (weights * probs[0]).sum()) > 0.01
    np.testing.assert_array_equal(mask, score > 0.5)
    # align_corners=True: the centre of a 3x3 is the mean of the logits.
    _, score = prediction_to_frame(
        fake_pred(probs), (3, 3), align_corners=True)
    assert float(score[1, 1]) == pytest.approx(0.5, abs=1e-3)
    assert float(score[0, 1]) == pytest.approx(0.5, abs=1e-3)
    assert float(score[2, 2]) == pytest.approx(0.4, abs=1e-3)
    # Saturated probabilities stay finite.
    _, score = prediction_to_frame(
        fake_pred([[[0.0, 1.0], [1.0, 0.0]]]), (3, 3))
    assert np.isfinite(score.astype(np.float32)).all()


def test_prediction_to_frame_classes():
    logits = np.zeros((3, 2, 2))
    logits[0, 0, 0] = 2
    logits[1, 0, 1] = 3
    logits[2, 1, 0] = 1
    mask, score = prediction_to_frame(fake_pred(logits), (2, 2))
    np.testing.assert_array_equal(mask, [[0, 1], [2, 0]])
    assert score.dtype == np.float16
    e = np.e
    np.testing.assert_allclose(
        score.astype(np.float64),
        [[e**2 / (e**2 + 2), e**3 / (e**3 + 2)], [e / (e + 2), 1 / 3]],
        atol=1e-3)
    # The threshold is for one-channel models only.
    mask2, _ = prediction_to_frame(fake_pred(logits), (2, 2), threshold=0.99)
    np.testing.assert_array_equal(mask2, mask)
    mask, score = prediction_to_frame(fake_pred(logits), (4, 6))
    assert mask.shape == score.shape == (4, 6) and mask.dtype == np.uint8
    assert mask[0, 5] == 1 and mask[3, 0] == 2 and mask[0, 0] == 0


def test_mask_image():
    binary = mask_image(np.array([[0, 1], [1, 0]], np.uint8))
    assert binary.dtype == np.uint8
    np.testing.assert_array_equal(binary, [[0, 255], [255, 0]])
    palette = [[0, 0, 0], [255, 0, 0], [0, 128, 255]]
    coloured = mask_image(np.array([[0, 1], [2, 5]], np.uint8), palette)
    assert coloured.shape == (2, 2, 3) and coloured.dtype == np.uint8
    np.testing.assert_array_equal(
        coloured, [[[0, 0, 0], [0, 0, 255]], [[255, 128, 0], [255, 128, 0]]])
