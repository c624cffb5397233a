# Copyright (c) mmavs contributors. All rights reserved.
"""AVSInferencer on short videos with a tiny random model (structure, not
quality: random weights give meaningless masks)."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
import soundfile
import torch

from mmavs.apis import AVSInferencer, VideoReadError
from mmavs.apis.inferencer import (AudioWindows, FrameSampler, deal_clips,
                                   find_config, load_source, unique_name)
from mmavs.datasets.audio import log_mel_spectrogram
from mmavs.datasets.video_io import (AudioTrack, iter_video_frames,
                                     probe_video, read_audio_track)

# Every test here reads or writes videos.
pytestmark = pytest.mark.usefixtures('needs_av')

SILENCE = np.log(0.01)


def clip_batches(inferencer, source, batch_size, fps):
    """The batches preprocess makes of ``source`` at ``fps``."""
    sampler = FrameSampler(source.frames(), fps, source.frame_rate)
    return inferencer.preprocess(source, sampler, batch_size)


def test_video_at_one_fps(inferencer, videos):
    """AVSBench sampling: the frame on screen mid-second, its second's
    audio, real VGGish."""
    result = inferencer(videos['mp4'], fps=1)
    assert result['masks'].shape == (3, 48, 64)
    assert result['masks'].dtype == np.uint8
    assert set(np.unique(result['masks'])) <= {0, 1}
    assert result['scores'].shape == (3, 48, 64)
    assert result['scores'].dtype == np.float16
    assert 0 <= result['scores'].min() and result['scores'].max() <= 1
    # 3.2 s: windows centred at 0.5, 1.5, 2.5 (3.5 is past the end).
    np.testing.assert_allclose(result['timestamps'], [0.5, 1.5, 2.5])
    np.testing.assert_array_equal(result['frame_indices'], [5, 15, 25])
    np.testing.assert_allclose(result['audio_centres'], [0.5, 1.5, 2.5])
    assert result['duration'] == pytest.approx(3.2)
    assert result['num_video_frames'] == 32
    assert result['frame_size'] == (48, 64)
    assert result['num_frames_per_clip'] == 5
    assert result['num_padded'] == 2  # one clip of T = 5, 2 padding frames
    assert result['classes'] == ('background', 'foreground')
    assert not result['audio_silent']
    summary = result['summary']
    assert [s['second'] for s in summary['per_second']] == [0, 1, 2]
    for entry, mask in zip(summary['frames'], result['masks']):
        assert entry['area'].get('foreground', 0.0) == pytest.approx(
            mask.mean(), abs=1e-6)


def test_resizing_matches_mmseg(fast_inferencer, videos, monkeypatch):
    """Predicting at the model's size and resizing each frame gives what
    mmseg's postprocess_result gives at the frame size."""
    inferencer = fast_inferencer
    source = load_source(videos['mp4'])
    first = next(clip_batches(inferencer, source, 1, 1.0))
    batch, slots = first.data, first.slots
    assert slots == [[0, 1, 2, -1, -1]]
    small = [
        inferencer.to_frame(pred, (48, 64))
        for pred in inferencer.forward(batch)
    ]
    threshold = float(np.median([score for _, score in small]))
    monkeypatch.setattr(inferencer.model.decode_head, 'threshold', threshold)
    small = [
        inferencer.to_frame(pred, (48, 64))
        for pred in inferencer.forward(batch)
    ]
    for frame in batch['data_samples'][0].frames:
        frame.set_metainfo(dict(ori_shape=(48, 64)))
    full = inferencer.forward(batch)
    agree = []
    for (mask, score), pred in zip(small, full):
        np.testing.assert_allclose(
            score.astype(np.float32),
            pred.seg_logits.data[0].numpy(),
            atol=2e-3)
        agree.append(mask == pred.pred_sem_seg.data[0].numpy())
    assert 0 < np.mean(small[0][0]) < 1  # the threshold splits the frame
    assert np.mean(agree) > 0.999


def test_every_frame_of_a_variable_frame_rate_video(fast_inferencer, videos):
    frames = list(iter_video_frames(videos['vfr']))
    times = np.array([f.time for f in frames])
    result = fast_inferencer(videos['vfr'], fps='all', batch_size=3)
    assert result['masks'].shape == (len(frames), 48, 64)
    np.testing.assert_allclose(result['timestamps'], times)
    np.testing.assert_array_equal(result['frame_indices'],
                                  np.arange(len(frames)))
    # Audio centred on the middle of each frame's display interval.
    middles = times[:-1] + np.diff(times) / 2
    np.testing.assert_allclose(result['audio_centres'][:-1], middles)
    assert result['audio_centres'][-1] > times[-1]
    # Consecutive clips for a model that treats frames independently.
    assert result['num_padded'] == -len(frames) % 5


def test_deal_clips():
    assert deal_clips(7, 1, 5) == [[0, 1, 2, 3, 4], [5, 6, -1, -1, -1]]
    assert deal_clips(6, 3, 2) == [[0, 3], [1, 4], [2, 5]]
    assert deal_clips(4, 3, 2) == [[0, 3], [1, -1], [2, -1]]
    assert deal_clips(2, 3, 2) == [[0, -1], [1, -1]]
    with pytest.raises(ValueError):
        deal_clips(7, 3, 2)


def test_interleaved_clips(fast_inferencer, videos):
    """Temporal models get clips of frames one second apart; for a model
    that treats frames independently the masks do not change."""
    inferencer = fast_inferencer
    plain = inferencer(videos['mp4'], fps='all', batch_size=4)
    inferencer.interleave_clips = True
    source = load_source(videos['mp4'])
    slots = [
        clip for batch in clip_batches(inferencer, source, 4, 'all')
        for clip in batch.slots
    ]
    # 10 fps: 10 clips of 5 frames 1 s apart; 32 frames -> 3 or 4 real.
    assert slots[0] == [0, 10, 20, 30, -1]
    assert slots[2] == [2, 12, 22, -1, -1]
    assert len(slots) == 10
    mixed = inferencer(videos['mp4'], fps='all', batch_size=4)
    assert mixed['num_padded'] == 18
    np.testing.assert_array_equal(mixed['frame_indices'], np.arange(32))
    np.testing.assert_allclose(
        mixed['scores'].astype(np.float32),
        plain['scores'].astype(np.float32),
        atol=2e-3)


def test_audio_windows_follow_the_sound(fast_inferencer, helpers, tmp_path):
    """Window k hears second k: a tone that starts at 2.1 s (lossless flac)
    is silent in windows 0 and 1 and heard in windows 2 and 3."""
    path = helpers.write_test_video(
        tmp_path / 'late.mkv',
        seconds=4.0,
        vcodec='ffv1',
        pix_fmt='bgr0',
        acodec='flac',
        tone_start=2.1)
    source = load_source(path)
    first = next(clip_batches(fast_inferencer, source, 1, 1.0))
    batch, slots = first.data, first.slots
    assert slots == [[0, 1, 2, 3, -1]]
    audio = batch['inputs']['audio'][0].numpy()  # [T, 1, 96, 64]
    assert np.allclose(audio[0], SILENCE) and np.allclose(audio[1], SILENCE)
    assert audio[2].max() > SILENCE + 5 and audio[3].max() > SILENCE + 5
    # Padding repeats the last real example; its frame is flagged.
    np.testing.assert_array_equal(audio[4], audio[3])
    frames = batch['data_samples'][0].frames
    assert [f.frame_valid for f in frames] == [True] * 4 + [False]
    assert not batch['inputs']['frames'][0][4].any()  # black


def test_audio_windows_slice_the_front_end(helpers):
    rng = np.random.default_rng(0)
    wave = rng.normal(0, 0.1, 3 * 16000).astype(np.float32)
    windows = AudioWindows(AudioTrack(wave[None], 16000))
    padded = np.concatenate([np.zeros(16000), wave, np.zeros(16000)])
    for centre in (0.1, 0.5, 1.0, 1.73, 2.9):
        first = int(round((centre * 16000 - 7800) / 160)) * 160
        expected = log_mel_spectrogram(
            padded[16000 + first:16000 + first + 15600], 16000)
        np.testing.assert_allclose(
            windows.example(centre)[0], expected, rtol=1e-5, atol=1e-5)
    assert np.allclose(windows.example(10.0), SILENCE)
    # The sound is read once, front to back: no going back.
    with pytest.raises(RuntimeError, match='was released'):
        windows.example(1.0)
    fresh = AudioWindows(AudioTrack(wave[None], 16000))
    one_second = fresh.example(1.0)
    np.testing.assert_array_equal(fresh.example(1.0), one_second)  # again
    # A track that starts later is shifted on the video's time line.
    late = AudioWindows(AudioTrack(wave[None], 16000, start=0.3))
    np.testing.assert_allclose(late.example(1.3), one_second)
    # Other rates and channel counts go through the same front end.
    stereo = AudioWindows(AudioTrack(np.stack([wave, wave]), 16000))
    np.testing.assert_allclose(stereo.example(1.0), one_second)


def test_short_video_is_padded(fast_inferencer, helpers, tmp_path):
    path = helpers.write_test_video(tmp_path / 'short.mp4', seconds=1.5)
    result = fast_inferencer(path, fps=1)
    assert result['masks'].shape == (1, 48, 64)
    assert result['num_padded'] == 4
    result = fast_inferencer(path, fps='all')
    assert result['masks'].shape == (15, 48, 64)
    assert result['num_padded'] == 0
    # The first window's centre (2 s) is after the end: still sampled,
    # with the last frame.
    result = fast_inferencer(path, fps=0.25)
    np.testing.assert_array_equal(result['frame_indices'], [14])


def test_too_short_and_gaps(fast_inferencer, helpers, tmp_path):
    path = helpers.write_test_video(tmp_path / 'tiny.mp4', seconds=0.8)
    with pytest.raises(
            VideoReadError,
            match=r'tiny.mp4: the video is 0.80 s long, shorter '
            r'than one 0.96 s audio window'):
        fast_inferencer(path)
    # Sound shorter than one window, in a longer video.
    frames = helpers.synth_frames(20)
    with pytest.raises(VideoReadError, match='sound track is 0.50 s'):
        fast_inferencer(
            dict(
                frames=frames,
                audio=np.zeros(8000),
                sample_rate=16000,
                frame_rate=10))
    # Sound that stops early: silence after it, with a warning.
    with pytest.warns(UserWarning, match='later frames hear silence'):
        result = fast_inferencer(
            dict(
                frames=frames,
                audio=helpers.tone(1.0)[0],
                sample_rate=16000,
                frame_rate=10))
    assert len(result['masks']) == 2


def test_silence_is_processed(fast_inferencer, helpers, tmp_path):
    path = helpers.write_test_video(
        tmp_path / 'quiet.mp4', seconds=2.0, audio='silence')
    with pytest.warns(
            UserWarning, match='quiet.mp4: the sound track is '
            'silent'):
        result = fast_inferencer(path)
    assert result['audio_silent'] and result['summary']['audio_silent']
    assert result['masks'].shape == (2, 48, 64)


def test_odd_frame_size(fast_inferencer, videos):
    result = fast_inferencer(videos['odd'], fps=2)
    # 2.2 s at 2 windows per second: centres 0.25 ... 1.75 (2.25 > 2.2).
    assert result['masks'].shape == (4, 33, 47)
    assert result['scores'].shape == (4, 33, 47)
    np.testing.assert_allclose(result['audio_centres'],
                               [0.25, 0.75, 1.25, 1.75])
    np.testing.assert_allclose(result['timestamps'], [0.2, 0.7, 1.2, 1.7])


def test_bad_files(fast_inferencer, helpers, tmp_path):
    no_sound = helpers.write_test_video(tmp_path / 'mute.mp4', audio=None)
    with pytest.raises(VideoReadError, match='mute.mp4: has no audio'):
        fast_inferencer(no_sound)
    no_picture = helpers.write_test_video(tmp_path / 'radio.m4a', video=False)
    with pytest.raises(VideoReadError, match='radio.m4a: has no video'):
        fast_inferencer(no_picture)
    (tmp_path / 'junk.mkv').write_bytes(b'not a video at all' * 100)
    with pytest.raises(VideoReadError, match='junk.mkv: cannot open'):
        fast_inferencer(str(tmp_path / 'junk.mkv'))
    with pytest.raises(VideoReadError, match='gone.mp4: file is missing'):
        fast_inferencer(str(tmp_path / 'gone.mp4'))
    fast = helpers.write_test_video(
        tmp_path / 'fast.mp4', seconds=3.0, options={'movflags': 'faststart'})
    data = open(fast, 'rb').read()
    cut = tmp_path / 'cut.mp4'
    cut.write_bytes(data[:len(data) * 6 // 10])
    with pytest.raises(VideoReadError, match='cut.mp4: .*truncated'):
        fast_inferencer(str(cut))
    with pytest.warns(UserWarning, match='truncated'):
        result = fast_inferencer(str(cut), allow_truncated=True)
    assert 1 <= len(result['masks']) < 3


def test_frame_folder(fast_inferencer, helpers, tmp_path):
    folder = tmp_path / 'clip'
    folder.mkdir()
    frames = helpers.synth_frames(5, size=(40, 30))
    for index, frame in enumerate(frames):
        # Natural order: 10 > 9 once there are many frames.
        cv2.imwrite(str(folder / f'clip_{index + 1}.png'), frame)
    soundfile.write(str(folder / 'clip.wav'), helpers.tone(5.0)[0], 16000)
    result = fast_inferencer(str(folder), fps=1, out_dir=str(tmp_path / 'o'))
    assert result['name'] == 'clip' and result['frame_rate'] == 1.0
    # The wav (no channel layout) is muxed into the overlay.
    overlay = probe_video(result['out_files']['overlay'])
    assert overlay.has_audio and overlay.duration == pytest.approx(5.0)
    assert result['masks'].shape == (5, 40, 30)
    np.testing.assert_allclose(result['timestamps'], np.arange(5))
    np.testing.assert_allclose(result['audio_centres'], np.arange(5) + 0.5)
    every = fast_inferencer(str(folder), fps='all')
    np.testing.assert_allclose(every['audio_centres'], np.arange(5) + 0.5)
    np.testing.assert_array_equal(every['masks'], result['masks'])
    # Sound given explicitly, and a frame rate: 5 frames at 2 fps are
    # 2.5 s; the frames on screen at 0.5 s and 1.5 s are frames 1 and 3.
    twice = fast_inferencer(
        dict(
            frames=str(folder), audio=str(folder / 'clip.wav'),
            frame_rate=2.0))
    np.testing.assert_allclose(twice['timestamps'], [0.5, 1.5])
    np.testing.assert_array_equal(twice['frame_indices'], [1, 3])
    soundfile.write(str(folder / 'other.wav'), np.zeros(16000), 16000)
    with pytest.raises(VideoReadError, match='exactly one sound file'):
        fast_inferencer(str(folder))
    cv2.imwrite(str(folder / 'clip_9.png'), frames[0][:20])
    with pytest.raises(VideoReadError, match='clip_9.png: frame is'):
        fast_inferencer(
            dict(frames=str(folder), audio=str(folder / 'clip.wav')))


def test_arrays(fast_inferencer, helpers):
    frames = helpers.synth_frames(30, size=(36, 52))
    wave = helpers.tone(3.0)[0]
    bgr = fast_inferencer(
        dict(
            frames=frames,
            audio=wave,
            sample_rate=16000,
            frame_rate=10,
            name='mine'))
    assert bgr['name'] == 'mine' and bgr['source'] == '<array>'
    assert bgr['masks'].shape == (3, 36, 52)
    rgb = fast_inferencer(
        dict(
            frames=list(frames[..., ::-1]),
            audio=wave[:, None],
            sample_rate=16000,
            frame_rate=10,
            channel_order='rgb'))
    np.testing.assert_array_equal(rgb['scores'], bgr['scores'])
    # Precomputed log-mel examples, one per frame; and timestamps.
    examples = np.stack([
        AudioWindows(AudioTrack(wave[None], 16000)).example(t + 0.05)
        for t in np.arange(30) / 10
    ])
    every = fast_inferencer(
        dict(frames=frames, audio=examples, timestamps=np.arange(30) / 10),
        fps='all')
    assert every['masks'].shape == (30, 36, 52)
    # The same frames and audio (batched differently: float noise).
    np.testing.assert_allclose(
        every['scores'][[5, 15, 25]].astype(np.float32),
        bgr['scores'].astype(np.float32),
        atol=2e-3)
    with pytest.raises(ValueError, match='sample_rate'):
        fast_inferencer(dict(frames=frames, audio=wave, frame_rate=10))
    with pytest.raises(ValueError, match='frames must be'):
        fast_inferencer(
            dict(frames=frames[..., 0], audio=wave, sample_rate=16000))


def test_outputs(fast_inferencer, videos, tmp_path):
    results = fast_inferencer([videos['mp4'], videos['odd'], videos['mp4']],
                              fps=1,
                              batch_size=2,
                              out_dir=str(tmp_path))
    assert [r['name'] for r in results] == ['tone', 'odd', 'tone']
    assert [osp.basename(r['out_files']['dir'])
            for r in results] == ['tone', 'odd', 'tone_1']
    for result, video in zip(results, [videos['mp4'], videos['odd']]):
        files = result['out_files']
        # Mask PNGs: one per sampled frame, 0/255 at the frame size.
        assert len(files['masks']) == len(result['masks'])
        for path, mask in zip(files['masks'], result['masks']):
            png = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(png, mask * 255)
        # The overlay: every frame, both streams, the input's duration.
        source, overlay = probe_video(video), probe_video(files['overlay'])
        assert overlay.video_codec == 'h264' and overlay.audio_codec == 'aac'
        assert (overlay.height,
                overlay.width) == (source.height + source.height % 2,
                                   source.width + source.width % 2)
        frames = list(iter_video_frames(files['overlay']))
        np.testing.assert_allclose([f.time for f in frames],
                                   [f.time for f in iter_video_frames(video)],
                                   atol=1e-3)
        assert overlay.duration == pytest.approx(result['duration'], abs=0.05)
        sound = read_audio_track(files['overlay'])
        assert sound.duration == pytest.approx(result['duration'], abs=0.1)
        assert np.abs(sound.samples).max() > 0.2  # the tone, not silence
        with open(files['summary']) as file:
            summary = json.load(file)
        assert summary['num_frames'] == len(result['masks'])
        assert summary['frame_size'] == list(result['frame_size'])
        assert summary['frames'][0]['mask_file'] == 'masks/000000.png'
        assert [s['second'] for s in summary['per_second']
                ] == list(range(len(result['masks'])))


def test_overlay_draws_the_masks(fast_inferencer, videos, tmp_path,
                                 monkeypatch):
    """Frames between samples show the mask of their window."""

    def half(pred, size):
        mask = np.zeros(size, np.uint8)
        mask[:, :size[1] // 2] = 1
        return mask, mask.astype(np.float16)

    monkeypatch.setattr(fast_inferencer, 'to_frame', half)
    result = fast_inferencer(
        videos['mp4'],
        out_dir=str(tmp_path),
        save_masks=False,
        save_summary=False)
    assert set(result['out_files']) == {'dir', 'overlay'}
    for frame in iter_video_frames(result['out_files']['overlay']):
        source = next(
            f for f in iter_video_frames(videos['mp4'])
            if f.index == frame.index)
        diff = np.abs(frame.image.astype(int) - source.image).sum(axis=2)
        # Left half tinted magenta, right half as it was (lossy codec).
        assert diff[:, 4:28].mean() > 3 * diff[:, 36:60].mean() + 20


def test_arguments(fast_inferencer, videos):
    for fps in (0, -1, 'often'):
        with pytest.raises(ValueError, match='fps'):
            fast_inferencer(videos['mp4'], fps=fps)
    with pytest.raises(ValueError, match='batch_size'):
        fast_inferencer(videos['mp4'], batch_size=0)
    with pytest.raises(TypeError, match='An input must be'):
        fast_inferencer(3)
    with pytest.raises(ValueError, match='"video", or "frames"'):
        fast_inferencer(dict(frames=np.zeros((2, 8, 8, 3), np.uint8)))
    with pytest.raises(ValueError, match=r'clip: frames must be uint8.*float'):
        fast_inferencer(dict(frames=np.zeros((2, 8, 8, 3), np.float32),
                             audio=np.zeros(32000, np.float32),
                             sample_rate=16000, name='clip'))
    with pytest.raises(ValueError, match='num_frames must be >= 1'):
        AVSInferencer('avsegformer_r50_1xb4-30e_avsbench-s4-224x224',
                      num_frames=0)


def test_config_names():
    path = find_config('avsegformer_r50_1xb4-30e_avsbench-s4-224x224')
    assert path.endswith(
        osp.join('avsegformer', 'avsegformer_r50_1xb4-30e_avsbench-s4-'
                 '224x224.py'))
    assert find_config('avsegformer/avsegformer_r50_1xb4-30e_avsbench-s4-'
                       '224x224.py') == path
    with pytest.raises(ValueError, match='did you mean avsegformer_r50'):
        find_config('avsegformer_r50_1xb4-30e_avsbench-s4')
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match='CUDA is not available'):
            AVSInferencer(
                'avsegformer_r50_1xb4-30e_avsbench-s4-224x224',
                device='cuda')


def test_class_model(helpers, tmp_path):
    """An AVSS model (71 classes, T = 10): class ids, top-class scores and
    masks written in the AVSS ground-truth colours."""
    from mmavs.datasets.readers import read_palette_mask
    from mmavs.testing import get_config, shrink_model_cfg
    cfg = get_config(
        'avsegformer/avsegformer_r50_1xb4-30e_avsbench-avss-224x224.py')
    cfg.model = shrink_model_cfg(cfg.model)
    for transform in cfg.test_dataloader.dataset.pipeline:
        if transform['type'] == 'ClipTransform':
            transform['transforms'][0]['scale'] = (32, 32)
    with pytest.warns(UserWarning, match='No checkpoint'):
        inferencer = AVSInferencer(cfg, device='cpu')
    inferencer.model.audio_backbone = helpers.TinyAudio()
    assert inferencer.num_frames == 10
    assert len(inferencer.dataset_meta['classes']) == 71
    path = helpers.write_test_video(tmp_path / 'band.mp4', seconds=2.2)
    result = inferencer(
        path,
        out_dir=str(tmp_path / 'out'),
        save_overlay=False,
        return_datasamples=True)
    masks, scores = result['masks'], result['scores'].astype(np.float32)
    assert masks.shape == scores.shape == (2, 48, 64)
    # Both frames alone (quick start): no padding.
    assert inferencer.quick_start
    assert masks.max() < 71 and result['num_padded'] == 0
    assert np.all(scores > 1 / 71 - 1e-3) and np.all(scores <= 1)
    assert len(result['data_samples']) == 2
    logits = result['data_samples'][0].seg_logits.data
    assert logits.shape == (71, 32, 32)
    for path, mask in zip(result['out_files']['masks'], masks):
        np.testing.assert_array_equal(read_palette_mask(path), mask)
    names = set(result['summary']['frames'][0]['area'])
    assert names <= set(result['classes'][1:])


def test_checkpoint(inferencer, helpers, videos, tmp_path):
    """Weights and dataset_meta come from the checkpoint; without a config
    the config saved in the checkpoint is used: in ``meta`` (as
    ``Runner.save_checkpoint`` writes it) or in the message hub (with its
    HistoryBuffer objects, loaded with weights_only=True)."""
    from mmengine.logging import MessageHub
    model = inferencer.model
    meta = dict(
        dataset_meta=dict(
            classes=('background', 'guitar'), palette=[[0, 0, 0], [1, 2, 3]]))
    hub = MessageHub('test_checkpoint_hub')
    hub.update_scalar('train/loss', 0.5)
    hub.update_info('cfg', inferencer.cfg.pretty_text)
    paths = [str(tmp_path / 'meta.pth'), str(tmp_path / 'hub.pth')]
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(meta, cfg=inferencer.cfg.pretty_text)), paths[0])
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=meta,
            message_hub=hub.state_dict()), paths[1])
    # The tiny audio stand-in (no weights) runs after the checkpoint
    # (with VGGish) is saved.
    vggish, model.audio_backbone = model.audio_backbone, helpers.TinyAudio()
    try:
        expected = inferencer(videos['mp4'])['scores']
    finally:
        model.audio_backbone = vggish
    for path, config in ((paths[0], None), (paths[1], None),
                         (paths[0], inferencer.cfg)):
        loaded = AVSInferencer(config, weights=path, device='cpu')
        assert loaded.dataset_meta['classes'] == ('background', 'guitar')
        loaded.model.audio_backbone = helpers.TinyAudio()
        result = loaded(videos['mp4'])
        assert result['summary']['classes'] == ['background', 'guitar']
        np.testing.assert_array_equal(result['scores'], expected)


def test_temporal_model(helpers, videos):
    """A model with a temporal module (TPAVI) gets clips of frames one
    second apart."""
    from mmavs.testing import get_config, shrink_model_cfg
    cfg = get_config(
        'avsbench/avsbench-tpavi_r50_1xb4-15e_avsbench-s4-224x224.py')
    cfg.model = shrink_model_cfg(cfg.model)
    for transform in cfg.test_dataloader.dataset.pipeline:
        if transform['type'] == 'ClipTransform':
            transform['transforms'][0]['scale'] = (32, 32)
    with pytest.warns(UserWarning, match='No checkpoint'):
        inferencer = AVSInferencer(cfg, device='cpu')
    assert inferencer.interleave_clips
    inferencer.model.audio_backbone = helpers.TinyAudio()
    source = load_source(videos['odd'])
    slots = [
        clip for batch in clip_batches(inferencer, source, 4, 'all')
        for clip in batch.slots
    ]
    assert slots[:2] == [[0, 10, 20, -1, -1], [1, 11, 21, -1, -1]]
    assert slots[2] == [2, 12, -1, -1, -1] and len(slots) == 10
    result = inferencer(videos['odd'], fps='all', batch_size=4)
    assert result['masks'].shape == (22, 33, 47)
    assert result['num_padded'] == 28


def test_output_names_never_collide():
    used = set()
    names = [unique_name(name, used) for name in ('a', 'a', 'a_1', 'a')]
    assert names == ['a', 'a_1', 'a_1_1', 'a_2']


def test_show_return_vis_and_output_folders(fast_inferencer, videos,
                                            tmp_path, monkeypatch):
    """mmseg's inferencer options, for video: show (a window per segmented
    frame), return_vis, pred_out_dir and img_out_dir."""
    result = fast_inferencer(videos['mp4'], return_vis=True,
                             save_overlay=False)
    vis = result['visualization']
    assert vis.shape == (3, 48, 64, 3) and vis.dtype == np.uint8
    assert 'out_files' not in result  # nothing written without out_dir
    frames = {f.index: f.image for f in iter_video_frames(videos['mp4'])}
    for k, index in enumerate(result['frame_indices']):
        drawn = fast_inferencer.visualize([frames[index]],
                                          [result['masks'][k]])[0]
        np.testing.assert_array_equal(vis[k], drawn)
    # No display: a clear error up front (not OpenCV aborting the process).
    monkeypatch.delenv('DISPLAY', raising=False)
    monkeypatch.delenv('WAYLAND_DISPLAY', raising=False)
    with pytest.raises(RuntimeError, match='needs a display'):
        fast_inferencer(videos['mp4'], show=True)
    shown = []
    monkeypatch.setenv('DISPLAY', ':0')
    monkeypatch.setattr(cv2, 'getBuildInformation', lambda: 'GUI: QT5')
    monkeypatch.setattr(cv2, 'namedWindow', lambda name: None)
    monkeypatch.setattr(cv2, 'imshow',
                        lambda name, image: shown.append(image.shape))
    monkeypatch.setattr(cv2, 'waitKey', lambda ms: shown.append(ms))
    result = fast_inferencer(videos['mp4'], show=True, wait_time=0.5,
                             out_dir=str(tmp_path), pred_out_dir='pred',
                             img_out_dir='vis', save_overlay=False)
    assert shown == [(48, 64, 3), 500] * 3
    files = result['out_files']
    assert [osp.relpath(p, files['dir']) for p in files['masks']] == [
        f'pred/{k:06d}.png' for k in range(3)
    ]
    assert len(files['images']) == 3 and 'overlay' not in files
    image = cv2.imread(files['images'][1])
    np.testing.assert_array_equal(image[..., ::-1],
                                  fast_inferencer.visualize(
                                      [frames[result['frame_indices'][1]]],
                                      [result['masks'][1]])[0])


def test_quick_start_sends_the_first_frames_alone(session_inferencer,
                                                  videos):
    """A model that treats frames independently gets the first two samples
    as one-frame clips (a first mask after one frame's forward pass); the
    masks are those of plain clips."""
    session_inferencer.num_frames = 5
    session_inferencer.interleave_clips = False
    assert session_inferencer.model.processes_frames_independently
    source = load_source(videos['mp4'])
    session_inferencer.quick_start = True
    batches = list(clip_batches(session_inferencer, source, 1, 'all'))
    assert [batch.slots for batch in batches[:4]] == [
        [[0]], [[1]], [[2, 3, 4, 5, 6]], [[7, 8, 9, 10, 11]]
    ]
    assert batches[0].data['inputs']['frames'][0].shape[0] == 1  # T = 1
    quick = session_inferencer(videos['mp4'], fps='all')
    session_inferencer.quick_start = False
    plain = session_inferencer(videos['mp4'], fps='all')
    np.testing.assert_array_equal(quick['masks'], plain['masks'])
    np.testing.assert_allclose(quick['scores'].astype(np.float32),
                               plain['scores'].astype(np.float32),
                               atol=2e-3)
    # 32 frames: 2 + 30 in clips of 5; plainly, the last clip has 3 pads.
    assert (quick['num_padded'], plain['num_padded']) == (0, 3)
