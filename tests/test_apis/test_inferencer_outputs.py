# Copyright (c) mmavs contributors. All rights reserved.
"""What the inferencer writes while an input streams: the summary, the
writers and their threads (on hand-made inputs, no model); then
:meth:`AVSInferencer.iter_frames` end to end: outputs that appear as
frames are made, runs that stop early, files that cannot be written, and
memory that does not grow with the video."""
import json
import os
import os.path as osp
import threading
import time
import tracemalloc

import cv2
import numpy as np
import pytest

from mmavs.apis.inferencer import writers
from mmavs.apis.inferencer.outputs import (OutputOptions, SegmentedFrame,
                                           SummaryBuilder)
from mmavs.apis.inferencer.threads import (BackgroundIterator, ItemWorker,
                                           MaskBoard, StopRequested)
from mmavs.apis.inferencer.writers import InputWriter
from mmavs.datasets.errors import VideoReadError
from mmavs.datasets.video_io import VideoFrame
from mmavs.testing.inputs import make_source, regular, tone_track

BINARY = dict(classes=['background', 'x'],
              palette=[[0, 0, 0], [255, 0, 255]], binary=True)


def frame_of(index, mask, time, frame_index=None):
    return SegmentedFrame(index, index if frame_index is None else
                          frame_index, time, time, mask,
                          mask.astype(np.float16))


def facts(**overrides):
    base = dict(name='clip', source='<array>', duration=2.0,
                frame_size=(2, 3), frame_rate=10.0, fps=1.0,
                audio_silent=False)
    base.update(overrides)
    return base


# ---------------------------------------------------------------------------
# The summary
# ---------------------------------------------------------------------------
def test_summary_areas_per_frame_and_per_second(tmp_path):
    masks = np.zeros((3, 2, 2), np.uint8)
    masks[0, 0, 0] = 1  # 1/4
    masks[1, 0] = 1
    masks[1, 1, 0] = 1  # 3/4
    lines = str(tmp_path / 'frames.part')
    builder = SummaryBuilder(('background', 'dog'), lines, keep_frames=True)
    for mask, time_, index in zip(masks, [0.5, 0.9, 1.5], [5, 9, 15]):
        builder.add(mask, np.float64(time_), np.int64(index))
    summary = builder.summary(
        facts(name='n', duration=np.float64(1.6000000001), frame_size=(2, 2),
              frame_rate=None, audio_silent=np.bool_(False)))
    assert summary['frames'] == [
        dict(frame_index=5, time=0.5, area=dict(dog=0.25)),
        dict(frame_index=9, time=0.9, area=dict(dog=0.75)),
        dict(frame_index=15, time=1.5, area=dict(dog=0.0)),
    ]
    assert summary['per_second'] == [
        dict(second=0, num_frames=2, area=dict(dog=0.5)),
        dict(second=1, num_frames=1, area=dict(dog=0.0)),
    ]
    assert summary['duration'] == 1.6 and summary['frame_rate'] is None
    assert summary['frame_size'] == [2, 2] and summary['num_frames'] == 3
    assert summary['classes'] == ['background', 'dog']
    assert summary['audio_silent'] is False and summary['complete'] is True
    assert 'error' not in summary
    assert type(summary['frames'][0]['frame_index']) is int
    # The file: the same summary, its per-frame entries copied from the
    # lines written as frames came; the lines are removed.
    path = builder.write(str(tmp_path / 'summary.json'), summary)
    with open(path) as file:
        assert json.load(file) == json.loads(json.dumps(summary))
    assert not osp.exists(lines)


def test_summary_keeps_no_frames_unless_asked_and_says_why_it_stopped(
        tmp_path):
    builder = SummaryBuilder(('background', 'a', 'b'),
                             str(tmp_path / 'lines'))
    mask = np.array([[4, 2, 0]], np.uint8)  # an id beyond the names
    builder.add(mask, 0.0, 0, 'masks/000000.png')
    builder.add(np.full((1, 3), 2, np.uint8), 0.99, 1)
    assert builder.frames is None  # nothing per frame in memory
    summary = builder.summary(facts(fps='all', frame_rate=25), False,
                              'KeyboardInterrupt: ')
    assert summary['complete'] is False
    assert summary['error'] == 'KeyboardInterrupt: '
    assert 'frames' not in summary
    assert summary['per_second'] == [
        dict(second=0, num_frames=2,
             area=dict(a=0.0, b=0.666667, class_3=0.0, class_4=0.166667))
    ]
    builder.write(str(tmp_path / 's.json'), summary)
    with open(tmp_path / 's.json') as file:
        written = json.load(file)
    assert written['frames'] == [
        dict(frame_index=0, time=0.0, mask_file='masks/000000.png',
             area=dict(a=0.0, b=0.333333, class_3=0.0, class_4=0.333333)),
        dict(frame_index=1, time=0.99,
             area=dict(a=0.0, b=1.0, class_3=0.0, class_4=0.0)),
    ]
    assert written['fps'] == 'all' and written['frame_rate'] == 25.0
    empty = SummaryBuilder(('background', 'x'), keep_frames=True)
    assert empty.summary(facts())['per_second'] == []
    assert empty.summary(facts())['num_frames'] == 0


# ---------------------------------------------------------------------------
# Threads
# ---------------------------------------------------------------------------
def test_mask_board_waits_for_the_writer_and_keeps_the_last():
    board = MaskBoard(2)
    board.put('m0')
    board.put('m1')
    third = threading.Thread(target=board.put, args=('m2', ))
    third.start()
    third.join(0.2)
    assert third.is_alive()  # full: the model waits for the writer
    assert board.get(0) == (0, 'm0')
    board.release(1)  # the writer is past mask 0
    third.join(2)
    assert not third.is_alive()
    assert board.get(2) == (2, 'm2')
    board.finish()
    # Frames after the last window get the last mask.
    assert board.get(7) == (2, 'm2')
    board.release(10)
    assert board.get(9) == (2, 'm2')
    board.abort()
    assert board.get(2) is None
    with pytest.raises(StopRequested):
        board.put('m3')


def test_background_iterator_hands_over_items_and_errors():

    def items():
        yield 1
        yield 2
        raise ValueError('frame 3 is broken')

    iterator = BackgroundIterator(items)
    got = []
    with pytest.raises(ValueError, match='frame 3 is broken'):
        for item in iterator:
            got.append(item)
    assert got == [1, 2]
    # Stopped early: the generator is closed (its files too).
    closed = []

    def endless():
        try:
            while True:
                yield 0
        finally:
            closed.append(True)

    iterator = BackgroundIterator(endless)
    assert next(iter(iterator)) == 0
    iterator.stop()
    assert closed == [True]


def test_item_worker_reports_its_error_to_the_next_put():
    seen = []

    def handle(item):
        if item == 2:
            raise OSError('/out/masks/000002.png: cannot write the mask')
        seen.append(item)

    worker = ItemWorker(handle, 2, 'test')
    worker.put(1)
    worker.put(2)
    deadline = time.time() + 5
    while worker.alive and time.time() < deadline:
        time.sleep(0.01)
    with pytest.raises(OSError, match='000002.png'):
        worker.put(3)
    with pytest.raises(OSError, match='000002.png'):
        worker.close()
    assert seen == [1]


# ---------------------------------------------------------------------------
# The writers
# ---------------------------------------------------------------------------
def two_frames():
    masks = [
        np.array([[1, 0, 0], [0, 0, 0]], np.uint8),
        np.array([[1, 1, 1], [0, 0, 0]], np.uint8)
    ]
    return [frame_of(0, masks[0], 0.5, 5), frame_of(1, masks[1], 1.5, 15)]


def write_frames(folder, frames, options, source=None, **kwargs):
    setup = dict(BINARY, **kwargs)
    writer = InputWriter(folder, source or make_source([]), options,
                         setup['classes'], setup['palette'],
                         setup['binary'], 1.0, keep_summary_frames=True)
    for frame in frames:
        writer.add(frame)
    return writer.finish(facts())


def test_masks_and_summary_are_written(tmp_path):
    folder = str(tmp_path / 'out' / 'clip')
    files = write_frames(folder, two_frames(),
                         OutputOptions(save_overlay=False))
    summary = files.pop('summary_dict')
    assert files == dict(dir=folder, masks=osp.join(folder, 'masks'),
                         num_masks=2,
                         summary=osp.join(folder, 'summary.json'))
    for k, frame in enumerate(two_frames()):
        png = cv2.imread(osp.join(folder, 'masks', f'{k:06d}.png'),
                         cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint8 and png.shape == (2, 3)
        np.testing.assert_array_equal(png, frame.mask * 255)
    with open(osp.join(folder, 'summary.json')) as file:
        written = json.load(file)
    assert written == json.loads(json.dumps(summary))
    assert [f['mask_file'] for f in written['frames']
            ] == ['masks/000000.png', 'masks/000001.png']
    assert [f['frame_index'] for f in written['frames']] == [5, 15]
    assert [f['area'] for f in written['frames']
            ] == [dict(x=0.166667), dict(x=0.5)]
    assert sorted(os.listdir(folder)) == ['masks', 'summary.json']
    # Class masks are written in the palette's colours (BGR on disk).
    palette = [[0, 0, 0], [10, 20, 30]]
    files = write_frames(str(tmp_path / 'colour'), two_frames(),
                         OutputOptions(save_overlay=False, save_summary=False),
                         palette=palette, binary=False)
    png = cv2.imread(osp.join(files['masks'], '000001.png'),
                     cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(png[0, 0], [30, 20, 10])
    np.testing.assert_array_equal(png[1, 0], [0, 0, 0])


def test_nothing_asked_for_writes_nothing(tmp_path):
    files = write_frames(
        str(tmp_path / 'bare'), two_frames(),
        OutputOptions(pred_out_dir='', save_overlay=False,
                      save_summary=False))
    files.pop('summary_dict')
    assert files == dict(dir=str(tmp_path / 'bare'))
    assert os.listdir(tmp_path / 'bare') == []
    # No masks asked for: none written, none named in the summary.
    files = write_frames(str(tmp_path / 'summary_only'), two_frames(),
                         OutputOptions(pred_out_dir='', save_overlay=False))
    assert os.listdir(tmp_path / 'summary_only') == ['summary.json']
    frames = read_summary(str(tmp_path / 'summary_only'))['frames']
    assert len(frames) == 2
    assert not any('mask_file' in frame for frame in frames)
    # No folder at all: the summary still comes back.
    files = write_frames(None, two_frames(), OutputOptions())
    assert files['dir'] is None and files['summary_dict']['num_frames'] == 2


class RecordingWriter:
    """Stands in for VideoWriter: records what the overlay writer writes."""

    made = []

    def __init__(self, path, rate, audio, **kwargs):
        self.path, self.rate, self.audio = path, rate, audio
        self.values, self.times, self.closed = [], [], None
        RecordingWriter.made.append(self)

    def write(self, image, time):
        self.values.append(int(image[0, 0, 1]))  # green: mask value * 255
        self.times.append(time)

    def close(self, complete=True):
        self.closed = complete
        return self.path


def overlay_of(monkeypatch, tmp_path, source, masks, fps):
    """Which mask (its value) the overlay writer draws on each frame."""
    monkeypatch.setattr(writers, 'VideoWriter', RecordingWriter)
    RecordingWriter.made = []
    # Mask k has class k in its first pixel, drawn opaque in green 20 * k;
    # the frames' own values (their index) stay below 20.
    palette = [[0, 20 * k, 0] for k in range(13)]
    writer = InputWriter(str(tmp_path / 'o'), source,
                         OutputOptions(pred_out_dir='', save_summary=False),
                         [f'c{k}' for k in range(13)], palette, False, fps,
                         opacity=1.0)
    for k, mask in enumerate(masks):
        writer.add(frame_of(k, mask, float(k)))
    writer.finish(facts())
    (made, ) = RecordingWriter.made
    return made, [value // 20 for value in made.values]


def window_masks(count, size=(4, 6)):
    masks = []
    for k in range(count):
        mask = np.zeros(size, np.uint8)
        mask[0, 0] = k
        masks.append(mask)
    return masks


def test_overlay_maps_frames_to_windows(monkeypatch, tmp_path):
    audio = tone_track(1.2)
    source = make_source(regular(12, 10), audio=audio, rate=10)
    # fps=2 over 1.2 s: windows centred at 0.25 and 0.75; frames 0-4 fall
    # in window 0, frames 5-11 in window 1 (window 2 was not sampled).
    made, values = overlay_of(monkeypatch, tmp_path, source,
                              window_masks(2), 2.0)
    assert values == [0] * 5 + [1] * 7
    np.testing.assert_allclose(made.times, np.arange(12) / 10)
    assert made.rate == 10 and made.audio is audio and made.closed is True
    # fps='all': each frame its own mask; no frame rate: 25.
    source = make_source(regular(12, 10), audio=audio)
    made, values = overlay_of(monkeypatch, tmp_path, source,
                              window_masks(12), 'all')
    assert values == list(range(12)) and made.rate == 25.0


def test_overlay_windows_at_one_fps_match_the_sampler(monkeypatch,
                                                      tmp_path):
    """3.2 s at 10 fps, fps=1: frames 0-9 get mask 0, 10-19 mask 1, the
    rest mask 2, as FrameSampler's three windows."""
    from mmavs.apis.inferencer.sampling import FrameSampler
    frames = regular(32, 10)
    assert [s.frame_index
            for s in FrameSampler(iter(frames), 1.0, 10)] == [5, 15, 25]
    masks = window_masks(3)
    for k, mask in enumerate(masks):
        mask[0, 1] = 1  # every mask draws something
    source = make_source(frames, rate=10)
    monkeypatch.setattr(writers, 'VideoWriter', RecordingWriter)
    RecordingWriter.made = []
    seen = []
    painter = writers.MaskPainter

    class SpyPainter(painter):

        def __init__(self, mask, *args, **kwargs):
            seen.append(int(mask[0, 0]))
            super().__init__(mask, *args, **kwargs)

    monkeypatch.setattr(writers, 'MaskPainter', SpyPainter)
    writer = InputWriter(str(tmp_path / 'o'), source,
                         OutputOptions(pred_out_dir='', save_summary=False),
                         ['background', 'x', 'y'], [[0, 0, 0]] * 3, False,
                         1.0)
    for k, mask in enumerate(masks):
        writer.add(frame_of(k, mask, k + 0.5))
    writer.finish(facts())
    # One painter per mask, made when its first frame comes.
    assert seen == [0, 1, 2]
    assert len(RecordingWriter.made[0].times) == 32


def test_overlay_refuses_a_frame_size_change_after_the_samples(tmp_path):
    """The sampler saw only sampled frames; the overlay pass decodes all
    of them and names the first one of another size."""
    frames = regular(12, 10, size=(16, 16))
    frames[11] = VideoFrame(11, 1.1, 0.1, np.zeros((8, 8, 3), np.uint8))
    source = make_source(frames, rate=10, kind='video', name='grows')
    writer = InputWriter(str(tmp_path / 'o'), source,
                         OutputOptions(pred_out_dir='', save_summary=False),
                         **BINARY, fps=1.0)
    writer.add(frame_of(0, np.ones((16, 16), np.uint8), 0.5, 5))
    with pytest.raises(VideoReadError,
                       match=r'/videos/grows.mp4: the frame size changes '
                       r'from \(16, 16\) to \(8, 8\) \(H, W\) at frame 11'):
        writer.finish(facts())


def test_a_real_overlay_has_every_frame_and_the_sound(tmp_path):
    pytest.importorskip('av')
    from mmavs.datasets.video_io import (iter_video_frames, probe_video,
                                         read_audio_track)
    source = make_source(regular(12, 10, size=(16, 16)),
                         audio=tone_track(1.2), rate=10)
    writer = InputWriter(str(tmp_path / 'o'), source,
                         OutputOptions(pred_out_dir='', save_summary=False),
                         **BINARY, fps=1.0)
    writer.add(frame_of(0, np.ones((16, 16), np.uint8), 0.5, 5))
    files = writer.finish(facts())
    assert files['overlay'] == str(tmp_path / 'o' / 'overlay.mp4')
    info = probe_video(files['overlay'])
    assert info.has_audio and (info.height, info.width) == (16, 16)
    decoded = list(iter_video_frames(files['overlay']))
    assert len(decoded) == 12
    np.testing.assert_allclose([f.time for f in decoded],
                               np.arange(12) / 10,
                               atol=1e-3)
    # Magenta (BGR 255, 0, 255) at opacity 0.5 over grey frames,
    # up to the lossy codec.
    colour = decoded[6].image.reshape(-1, 3).mean(axis=0)
    assert colour[0] > colour[1] + 60 and colour[2] > colour[1] + 60
    sound = read_audio_track(files['overlay'])
    assert sound.start == pytest.approx(0, abs=1e-3)
    assert sound.duration == pytest.approx(1.2, abs=0.07)


# ---------------------------------------------------------------------------
# iter_frames end to end (a tiny random model on generated videos)
# ---------------------------------------------------------------------------
def wait_for(path, seconds=10):
    deadline = time.time() + seconds
    while not osp.exists(path) and time.time() < deadline:
        time.sleep(0.02)
    return osp.exists(path)


def read_summary(folder):
    with open(osp.join(folder, 'summary.json')) as file:
        return json.load(file)


def decodable_frames(path):
    from mmavs.datasets.video_io import iter_video_frames
    return sum(1 for _ in iter_video_frames(path, allow_truncated=True))


@pytest.mark.usefixtures('needs_av')
def test_files_are_written_while_frames_come(fast_inferencer, videos,
                                             tmp_path):
    stream = fast_inferencer.iter_frames(videos['mp4'], fps='all',
                                         out_dir=str(tmp_path))
    folder = str(tmp_path / 'tone')
    for frame in stream:
        assert stream.result == {}  # filled at the end
        if frame.index == 20:
            # Frame 3's mask is on disk long before the video ends.
            assert wait_for(osp.join(folder, 'masks', '000003.png'))
    result = stream.result
    assert result['complete'] is True and result['num_frames'] == 32
    assert result['summary']['complete'] is True
    assert 'frames' not in result['summary']  # on disk only
    assert len(read_summary(folder)['frames']) == 32
    assert result['out_files']['num_masks'] == 32
    assert decodable_frames(result['out_files']['overlay']) == 32
    assert set(result['timing']) >= {'wall', 'first_frame', 'read', 'model',
                                     'masks', 'overlay_encode'}
    with pytest.raises(RuntimeError, match='iterated once'):
        list(stream)


@pytest.mark.usefixtures('needs_av')
def test_breaking_off_leaves_the_frames_so_far(fast_inferencer, videos,
                                               tmp_path):
    stream = fast_inferencer.iter_frames(videos['mp4'], fps='all',
                                         out_dir=str(tmp_path))
    frames = iter(stream)
    for _ in range(8):
        next(frames)
    frames.close()
    folder = str(tmp_path / 'tone')
    summary = read_summary(folder)
    assert summary['complete'] is False
    assert summary['error'] == 'stopped by the caller'
    assert summary['num_frames'] == len(summary['frames']) == 8
    assert sorted(os.listdir(osp.join(folder, 'masks'))) == [
        f'{k:06d}.png' for k in range(8)
    ]
    # The overlay is a valid file with the frames drawn so far.
    assert 1 <= decodable_frames(osp.join(folder, 'overlay.mp4')) <= 32
    assert stream.result['complete'] is False
    assert not [name for name in os.listdir(folder) if name.startswith('.')]


@pytest.mark.usefixtures('needs_av')
@pytest.mark.parametrize('error,reason', [
    (RuntimeError('the model broke'), 'RuntimeError: the model broke'),
    (KeyboardInterrupt(), 'interrupted (Ctrl-C)'),
])
def test_an_error_mid_run_marks_the_summary(fast_inferencer, videos,
                                            tmp_path, monkeypatch, error,
                                            reason):
    calls = []
    forward = fast_inferencer.forward

    def failing_forward(data):
        calls.append(1)
        if len(calls) == 3:
            raise error
        return forward(data)

    monkeypatch.setattr(fast_inferencer, 'forward', failing_forward)
    with pytest.raises(type(error)):
        fast_inferencer(videos['mp4'], fps='all', out_dir=str(tmp_path))
    summary = read_summary(str(tmp_path / 'tone'))
    assert summary['complete'] is False and summary['error'] == reason
    # Two clips of 5 frames were segmented before the third forward pass.
    assert summary['num_frames'] == 10
    assert len(os.listdir(tmp_path / 'tone' / 'masks')) == 10


@pytest.mark.usefixtures('needs_av')
@pytest.mark.skipif(not osp.exists('/dev/full'), reason='no /dev/full')
def test_a_full_disk_names_the_file(fast_inferencer, videos, tmp_path):
    """overlay.mp4 is /dev/full, where every write fails with ENOSPC."""
    folder = tmp_path / 'tone'
    folder.mkdir()
    os.symlink('/dev/full', folder / 'overlay.mp4')
    with pytest.raises(OSError) as failure:
        fast_inferencer(videos['mp4'], fps='all', out_dir=str(tmp_path))
    assert str(folder / 'overlay.mp4') in str(failure.value)
    summary = read_summary(str(folder))
    assert summary['complete'] is False
    assert 'overlay.mp4' in summary['error']
    assert 0 < summary['num_frames'] == len(os.listdir(folder / 'masks'))


@pytest.mark.usefixtures('needs_av')
def test_a_mask_that_cannot_be_written_stops_the_run(fast_inferencer, videos,
                                                     tmp_path, monkeypatch):
    imwrite = writers.mmcv.imwrite

    def failing_imwrite(image, path, *args, **kwargs):
        if path.endswith('000003.png'):
            return False
        return imwrite(image, path, *args, **kwargs)

    monkeypatch.setattr(writers.mmcv, 'imwrite', failing_imwrite)
    with pytest.raises(OSError,
                       match=r'masks/000003.png: cannot write the mask'):
        fast_inferencer(videos['mp4'], fps='all', out_dir=str(tmp_path))
    summary = read_summary(str(tmp_path / 'tone'))
    assert summary['complete'] is False
    assert summary['num_frames'] == 3  # frames 0-2, summarised with masks


@pytest.mark.usefixtures('needs_av')
def test_memory_does_not_grow_with_the_video(fast_inferencer, helpers,
                                             tmp_path):
    """Every frame segmented and written (masks, overlay, summary): the
    Python-side peak (numpy arrays included) of a 4x longer video is about
    the same. Kept masks and scores alone would add 60 KB per frame, 14 MB
    over the extra 240 frames."""
    from mmavs.testing.videos import write_long_test_video
    peaks = []
    for seconds in (8, 32):
        path = write_long_test_video(tmp_path / f'{seconds}.mp4', seconds,
                                     fps=10, size=(120, 160),
                                     sample_rate=16000, channels=1)
        tracemalloc.start()
        try:
            stream = fast_inferencer.iter_frames(
                path, fps='all', out_dir=str(tmp_path / 'out'))
            count = sum(1 for _ in stream)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert count == seconds * 10
    assert peaks[1] < peaks[0] * 1.3, peaks


@pytest.mark.usefixtures('needs_av')
@pytest.mark.parametrize('second_pass,sizes', [
    # Quick: clips of T = 5 after the two one-frame passes.
    (0.0, [1, 1, 5, 5, 5, 5, 5, 5]),
    # Slow (timed on the second, warm pass): one-frame clips.
    (0.3, [1] * 32),
])
def test_clips_follow_the_cost_of_a_warm_pass(session_inferencer, videos,
                                              monkeypatch, second_pass,
                                              sizes):
    """A model that treats frames independently gets its first two frames
    alone; if the second (warm) pass takes SINGLE_FRAME_SECONDS or more,
    every later clip has one frame too (the same masks, sooner). A slow
    first pass (one-time set-up) does not count."""
    inferencer = session_inferencer
    inferencer.num_frames, inferencer.interleave_clips = 5, False
    monkeypatch.setattr(inferencer, 'quick_start', True)
    seen = []
    forward = inferencer.forward

    def timed_forward(data):
        seen.append(data['inputs']['frames'][0].shape[0])
        time.sleep({1: 0.3, 2: second_pass}.get(len(seen), 0))
        return forward(data)

    monkeypatch.setattr(inferencer, 'forward', timed_forward)
    frames = list(inferencer.iter_frames(videos['mp4'], fps='all'))
    assert [frame.index for frame in frames] == list(range(32))
    assert seen[:len(sizes)] == sizes
