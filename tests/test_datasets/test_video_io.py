# Copyright (c) mmavs contributors. All rights reserved.
"""Reading videos and writing overlay videos with PyAV."""
import warnings

import numpy as np
import pytest

from mmavs.datasets import AVSDataError
from mmavs.datasets.errors import AVSDataWarning
from mmavs.datasets.video_io import (AudioTrack, VideoReadError,
                                     iter_video_frames, probe_video,
                                     read_audio_track)
from mmavs.datasets.video_writer import write_video
from mmavs.testing.videos import (corrupt_audio_packets, find_test_media,
                                  synth_frames, tone, write_test_video)

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


# Debian opencv-doc's sample; `make media` fetches it.
MEGAMIND = find_test_media('Megamind.avi')


def test_undecodable_audio_packet_becomes_silence_in_place(tmp_path):
    """A packet FFmpeg cannot decode is skipped; silence takes its time, so
    the later sound is where it was (AAC: the next frame still differs, it
    overlaps the lost one)."""
    whole = write_test_video(tmp_path / 'whole.mp4', seconds=3.0)
    path = corrupt_audio_packets(whole, [24], tmp_path / 'corrupt.mp4')
    with pytest.warns(AVSDataWarning, match=r'1 audio packet\(s\) do not '
                      r'decode: 0\.064 s of sound between 1\.472 s'):
        track = read_audio_track(path)
    intact = read_audio_track(whole)
    assert track.samples.shape == intact.samples.shape
    assert track.start == intact.start == 0
    rate = track.sample_rate
    gap = track.samples[:, int(1.472 * rate):int(1.536 * rate)]
    np.testing.assert_array_equal(gap, 0)
    np.testing.assert_allclose(track.samples[:, int(1.7 * rate):],
                               intact.samples[:, int(1.7 * rate):],
                               atol=1e-4)
    np.testing.assert_array_equal(track.samples[:, :int(1.4 * rate)],
                                  intact.samples[:, :int(1.4 * rate)])


def test_undecodable_last_packet_is_a_cut_file(tmp_path):
    """Nothing decodes after it: the file ends there, as a cut file does,
    so ``allow_truncated`` decides."""
    whole = write_test_video(tmp_path / 'whole.mp4', seconds=3.0)
    path = corrupt_audio_packets(whole, [47], tmp_path / 'end.mp4')
    with pytest.raises(VideoReadError,
                       match=r'end\.mp4: audio decoding failed after 47104 '
                       r'samples; .*allow_truncated=True'):
        read_audio_track(path)
    with pytest.warns(UserWarning, match='using the samples decoded so far'):
        track = read_audio_track(path, allow_truncated=True)
    assert track.samples.shape[1] == 47104


@pytest.mark.skipif(
    MEGAMIND is None, reason='no Megamind.avi: make media, or install '
    "Debian's opencv-doc")
def test_megamind_sound_and_frames():
    """opencv's sample: FFmpeg plays it although its first AC-3 packet
    (729 of 768 bytes) does not decode; its frames' pts are out of order
    (packed B-frames) and their dts are right."""
    with pytest.warns(AVSDataWarning, match=r'Megamind\.avi: 1 audio '
                      r'packet\(s\) do not decode: 0\.032 s of sound between '
                      r'0\.000 s and 0\.032 s'):
        track = read_audio_track(MEGAMIND)
    assert (track.sample_rate, track.layout, track.start) == (48000,
                                                              'stereo', 0)
    assert track.samples.shape == (2, 352 * 1536)  # the lost one is silence
    np.testing.assert_array_equal(track.samples[:, :1536], 0)
    assert np.abs(track.samples[:, 1536:]).max() > 0.1
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter('always')
        frames = list(iter_video_frames(MEGAMIND))
    assert len(frames) == 270
    times = np.array([frame.time for frame in frames])
    # As FFmpeg times them, two frames repeat the time before them: the
    # fourth (its guess learns from the first reordered pts) and the last
    # (flushed from the decoder, without dts). With the pts, 88 did.
    assert [str(w.message).split(': ')[1] for w in record] == [
        '2 frame timestamps did not increase; they were moved 1 ms after '
        'the previous frame'
    ]
    np.testing.assert_allclose(times[4:269], np.arange(5, 270) / 23.976,
                               atol=1e-3)


# ---------------------------------------------------------------------------
# Sound read in pieces; videos written frame by frame
# ---------------------------------------------------------------------------
def sound_files(tmp_path):
    """Videos whose sound starts late, has a damaged packet, or is stereo
    at 44.1 kHz; and Megamind.avi when the machine has it."""
    late = write_test_video(tmp_path / 'late.mp4', seconds=3.0,
                            tone_start=1.1)
    files = [
        late,
        corrupt_audio_packets(late, [20], tmp_path / 'hole.mp4'),
        write_test_video(tmp_path / 'stereo.mkv', seconds=2.0,
                         sample_rate=44100, channels=2, acodec='flac'),
    ]
    return files + ([MEGAMIND] if MEGAMIND else [])


def test_a_scanned_track_reads_back_as_read_audio_track(tmp_path):
    from mmavs.datasets.video_io import scan_audio_track
    for path in sound_files(tmp_path):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            whole = read_audio_track(path)
            scanned = scan_audio_track(path)
        assert (scanned.sample_rate, scanned.start, scanned.layout,
                scanned.channels) == (whole.sample_rate, whole.start,
                                      whole.layout, whole.channels), path
        assert scanned.num_samples == whole.samples.shape[1]
        assert scanned.duration == whole.duration
        assert scanned.peak == whole.peak
        with warnings.catch_warnings():
            warnings.simplefilter('error')  # checked once: no warning again
            pieces = list(scanned.chunks())
        assert len(pieces) > 1
        np.testing.assert_array_equal(np.concatenate(pieces, axis=1),
                                      whole.samples)


def test_a_scan_refuses_what_a_read_refuses(tmp_path):
    from mmavs.datasets.video_io import scan_audio_track
    whole = write_test_video(tmp_path / 'whole.mp4', seconds=3.0)
    lossy = corrupt_audio_packets(whole, list(range(10, 20)),
                                  tmp_path / 'lossy.mp4')
    for read in (read_audio_track, scan_audio_track):
        with pytest.raises(VideoReadError, match='lossy.mp4: 10 audio '
                           r'packet\(s\) do not decode'):
            read(lossy)
        with pytest.raises(VideoReadError, match='no audio stream'):
            read(write_test_video(tmp_path / 'mute.mp4', audio=None))


def test_video_writer_streams_the_sound_alongside(tmp_path):
    """The sound of a scanned file, read again in pieces as frames come,
    lands where it was: the tone that starts at 1.1 s still does."""
    from mmavs.datasets.video_io import scan_audio_track
    from mmavs.datasets.video_writer import VideoWriter
    source = write_test_video(tmp_path / 'late.mp4', seconds=3.0,
                              tone_start=1.1)
    track = scan_audio_track(source)
    with VideoWriter(tmp_path / 'o.mp4', 10, track) as writer:
        for frame in iter_video_frames(source):
            writer.write(frame.image[..., ::-1], frame.time)
    out = read_audio_track(tmp_path / 'o.mp4')
    assert out.start == pytest.approx(0, abs=1e-3)
    assert out.duration == pytest.approx(track.duration, abs=0.07)
    loud = np.flatnonzero(np.abs(out.samples[0]) > 0.05)
    assert loud[0] / out.sample_rate == pytest.approx(1.1, abs=0.03)


def test_an_unfinished_overlay_plays_up_to_its_last_fragment(tmp_path):
    """What is on disk while (or after) a writer dies: every complete
    fragment (a keyframe every 2 s) decodes."""
    from mmavs.datasets.video_writer import VideoWriter
    images = synth_frames(100, size=(32, 32))
    writer = VideoWriter(tmp_path / 'o.mp4', 10)
    for index, image in enumerate(images):
        writer.write(image, index / 10)
    # The file as a killed process would leave it: never closed.
    unfinished = tmp_path / 'killed.mp4'
    unfinished.write_bytes((tmp_path / 'o.mp4').read_bytes())
    writer.close()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        frames = list(iter_video_frames(unfinished, allow_truncated=True))
    assert 60 <= len(frames) < 100
    np.testing.assert_allclose([f.time for f in frames],
                               np.arange(len(frames)) / 10, atol=1e-3)
    assert len(list(iter_video_frames(tmp_path / 'o.mp4'))) == 100
    # An interrupted run ends its sound with its last frames (the sound
    # goes up to AUDIO_LEAD ahead), not with the 10 s track.
    audio = AudioTrack(tone(10.0), 16000, 0.0, 'mono')
    writer = VideoWriter(tmp_path / 'cut.mp4', 10, audio)
    for index, image in enumerate(images[:30]):
        writer.write(image, index / 10)
    writer.close(complete=False)
    duration = read_audio_track(tmp_path / 'cut.mp4').duration
    assert 3.0 <= duration <= 2.9 + VideoWriter.AUDIO_LEAD + 0.1
