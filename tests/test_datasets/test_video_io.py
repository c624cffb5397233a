# Copyright (c) mmavs contributors. All rights reserved.
"""Reading videos and writing overlay videos with PyAV."""
import numpy as np
import pytest

from mmavs.datasets import AVSDataError
from mmavs.datasets.video_io import (AudioTrack, VideoReadError,
                                     iter_video_frames, probe_video,
                                     read_audio_track, write_video)
from mmavs.testing.videos import synth_frames, tone, write_test_video

# PyAV is an optional dependency (requirements/optional.txt).
pytest.importorskip('av')


@pytest.mark.parametrize('name, kwargs', [
    ('a.mp4', dict()),
    ('a.mkv', dict(vcodec='ffv1', pix_fmt='bgr0', acodec='flac')),
    ('a.avi', dict(vcodec='mjpeg', pix_fmt='yuvj420p', acodec='pcm_s16le')),
    ('a.webm', dict(vcodec='libvpx', acodec='libopus', sample_rate=48000)),
])
def test_containers(tmp_path, name, kwargs):
    path = write_test_video(tmp_path / name, seconds=1.5, **kwargs)
    info = probe_video(path)
    assert (info.height, info.width) == (48, 64)
    assert info.has_audio and info.frame_rate == pytest.approx(10)
    frames = list(iter_video_frames(path))
    assert len(frames) == 15
    assert [f.index for f in frames] == list(range(15))
    np.testing.assert_allclose([f.time for f in frames],
                               np.arange(15) / 10,
                               atol=2e-3)
    assert frames[0].image.shape == (48, 64, 3)
    assert frames[0].image.dtype == np.uint8
    track = read_audio_track(path)
    assert track.samples.dtype == np.float32
    assert track.duration == pytest.approx(1.5, abs=0.08)
    assert abs(track.start) < 0.03
    assert np.abs(track.samples).max() == pytest.approx(0.3, abs=0.05)


def test_variable_frame_rate_keeps_timestamps(videos):
    times = [f.time for f in iter_video_frames(videos['vfr'])]
    steps = np.diff(times)
    assert np.all(steps > 0)
    assert steps.min() < 0.08 and steps.max() > 0.12  # not resampled


def test_write_video_round_trip(tmp_path):
    # Odd size, variable timing, stereo sound starting 0.25 s late.
    images = synth_frames(12, size=(33, 47))[..., ::-1]
    times = np.cumsum([0.0] + [0.05, 0.15] * 5 + [0.1])
    audio = AudioTrack(
        tone(1.0, 22050, channels=2), 22050, 0.25, 'stereo')
    out = write_video(tmp_path / 'o.mp4', zip(images, times), 10, audio)
    info = probe_video(out)
    assert (info.height, info.width) == (34, 48)  # padded to even
    assert info.video_codec == 'h264' and info.audio_codec == 'aac'
    assert info.channels == 2 and info.sample_rate == 22050
    frames = list(iter_video_frames(out))
    np.testing.assert_allclose([f.time for f in frames], times, atol=1e-3)
    # Colours survive (lossy, and the chroma is subsampled).
    assert np.abs(frames[5].image[:33, :47].astype(int) -
                  images[5][..., ::-1]).mean() < 12
    track = read_audio_track(out)
    # The late start became leading silence.
    assert track.duration == pytest.approx(1.25, abs=0.06)
    lead = track.samples[:, :int(0.2 * 22050)]
    assert np.abs(lead).max() < 0.02
    assert np.abs(track.samples).max() > 0.2


def test_write_video_errors(tmp_path):
    with pytest.raises(ValueError, match='no frames'):
        write_video(tmp_path / 'e.mp4', [], 10)
    frames = [(np.zeros((8, 8, 3), np.uint8), 0.0),
              (np.zeros((10, 8, 3), np.uint8), 0.1)]
    with pytest.raises(ValueError, match='frame 1'):
        write_video(tmp_path / 'e.mp4', frames, 10)


def test_missing_streams(tmp_path):
    silent_film = write_test_video(
        tmp_path / 'noaudio.mp4', audio=None)
    with pytest.raises(VideoReadError, match='noaudio.mp4: has no audio'):
        probe_video(silent_film)
    assert not probe_video(silent_film, require_audio=False).has_audio
    with pytest.raises(VideoReadError, match='has no audio stream'):
        read_audio_track(silent_film)
    sound_only = write_test_video(tmp_path / 'sound.m4a', video=False)
    with pytest.raises(VideoReadError, match='sound.m4a: has no video'):
        probe_video(sound_only)
    with pytest.raises(VideoReadError, match='has no video stream'):
        list(iter_video_frames(sound_only))


def test_unreadable_files(tmp_path):
    with pytest.raises(VideoReadError, match='nothing.mp4: file is missing'):
        probe_video(tmp_path / 'nothing.mp4')
    (tmp_path / 'empty.mp4').write_bytes(b'')
    with pytest.raises(VideoReadError, match=r'empty.mp4: file is empty'):
        probe_video(tmp_path / 'empty.mp4')
    (tmp_path / 'junk.mp4').write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(VideoReadError, match='junk.mp4: cannot open'):
        probe_video(tmp_path / 'junk.mp4')
    with pytest.raises(VideoReadError, match='is a directory'):
        probe_video(tmp_path)
    # VideoReadError is an AVSDataError (and a ValueError).
    assert issubclass(VideoReadError, AVSDataError)
    assert issubclass(VideoReadError, ValueError)


def test_truncated_files(tmp_path):
    # mp4 as PyAV writes it keeps its index (moov) at the end: cut, it
    # cannot be opened at all.
    whole = write_test_video(tmp_path / 'whole.mp4', seconds=3.0)
    data = open(whole, 'rb').read()
    cut = tmp_path / 'cut.mp4'
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(VideoReadError, match='cut.mp4: cannot open.*trunc'):
        probe_video(cut)
    # With the index first (faststart) the file opens and decoding stops
    # early, far before the declared 3 s.
    fast = write_test_video(
        tmp_path / 'fast.mp4', seconds=3.0, options={'movflags': 'faststart'})
    data = open(fast, 'rb').read()
    cut = tmp_path / 'cutfast.mp4'
    cut.write_bytes(data[:len(data) // 2])
    assert probe_video(cut).duration == pytest.approx(3.0, abs=0.05)
    with pytest.raises(
            VideoReadError,
            match=r'cutfast.mp4: .*declares 3.00 s.*truncated'):
        list(iter_video_frames(cut))
    with pytest.warns(UserWarning, match='truncated'):
        frames = list(iter_video_frames(cut, allow_truncated=True))
    assert 0 < len(frames) < 30
