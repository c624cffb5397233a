# Copyright (c) mmavs contributors. All rights reserved.
"""The VGGish log-mel front end, checked against values computed here."""
import fractions
import io
import math
import pickle
import sys

import numpy as np
import pytest
import soundfile
import torch

from mmavs.datasets import audio, video_io
from mmavs.datasets.audio import (AVSDataError, file_to_log_mel_examples,
                                  fit_num_examples, load_pickled_array,
                                  log_mel_spectrogram, mel_filterbank,
                                  waveform_to_log_mel_examples)

SR = 16000


def tone(freq, seconds, sample_rate=SR, amplitude=0.5):
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return amplitude * np.sin(2 * np.pi * freq * t)


def mel(f):
    return 1127.0 * math.log(1.0 + f / 700.0)


def nearest_band(freq):
    """Index of the mel band whose centre is closest to ``freq``."""
    low, high = mel(125.0), mel(7500.0)
    centres = [low + (high - low) * (i + 1) / 65 for i in range(64)]
    return int(np.argmin([abs(c - mel(freq)) for c in centres]))


def naive_log_mel(waveform):
    """A loop-by-loop VGGish log-mel spectrogram, written independently."""
    window = [0.5 - 0.5 * math.cos(2 * math.pi * n / 400) for n in range(400)]
    low, high = mel(125.0), mel(7500.0)
    edges = [low + (high - low) * i / 65 for i in range(66)]
    weights = np.zeros((257, 64))
    for k in range(1, 257):  # bin 0 (DC) gets no weight
        m = mel(k * 8000.0 / 256)
        for band in range(64):
            left, centre, right = edges[band:band + 3]
            if left < m <= centre:
                weights[k, band] = (m - left) / (centre - left)
            elif centre < m < right:
                weights[k, band] = (right - m) / (right - centre)
    rows = []
    for start in range(0, len(waveform) - 400 + 1, 160):
        frame = np.zeros(512)
        frame[:400] = waveform[start:start + 400] * np.array(window)
        spectrum = np.abs(np.fft.fft(frame))[:257]
        rows.append(np.log(spectrum @ weights + 0.01))
    return np.array(rows)


def test_mel_filterbank_shape_and_construction():
    weights = mel_filterbank()
    assert weights.shape == (257, 64)
    assert not weights[0].any()  # DC bin excluded
    # Unnormalised triangles: every band peaks at <= 1 and reaches > 0.5.
    assert weights.max() <= 1.0 and (weights.max(axis=0) > 0.5).all()
    # Bands ascend with frequency.
    assert (np.diff(weights.argmax(axis=0)) >= 0).all()
    # Nothing above 7500 Hz (FFT bin 240 = 7500 Hz exactly).
    assert not weights[241:].any()


def test_matches_a_naive_implementation_on_noise():
    rng = np.random.default_rng(0)
    waveform = rng.uniform(-0.5, 0.5, size=int(1.3 * SR))
    expected = naive_log_mel(waveform)
    got = log_mel_spectrogram(waveform, SR)
    assert got.shape == expected.shape == (1 +
                                           (len(waveform) - 400) // 160, 64)
    np.testing.assert_allclose(got, expected, atol=2e-4)
    examples = waveform_to_log_mel_examples(waveform, SR)
    assert examples.shape == (1, 1, 96, 64)
    np.testing.assert_allclose(examples[0, 0], expected[:96], atol=2e-4)


@pytest.mark.parametrize('freq', [250, 500, 1000, 2000, 4000, 6800])
def test_pure_tone_lands_in_its_mel_band(freq):
    examples = waveform_to_log_mel_examples(tone(freq, 2.0), SR)
    assert examples.shape == (2, 1, 96, 64)
    spectrum = examples[:, 0].mean(axis=(0, 1))
    assert int(spectrum.argmax()) == nearest_band(freq)
    # A 0.5 sine on the window peaks at 0.5 * sum(hann) / 2 = 50 per FFT bin;
    # far bands hold only the log offset's floor.
    assert 3.0 < spectrum.max() < 5.0
    assert spectrum.min() < np.log(0.01) + 1.0


@pytest.mark.parametrize('seconds,num_examples', [(0.95, 0), (1.0, 1),
                                                  (2.5, 2), (5.0, 5)])
def test_one_example_per_whole_second(seconds, num_examples):
    examples = waveform_to_log_mel_examples(tone(440, seconds), SR)
    assert examples.shape == (num_examples, 1, 96, 64)
    assert examples.dtype == np.float32


def test_silence_is_log_of_the_offset():
    examples = waveform_to_log_mel_examples(np.zeros(2 * SR), SR)
    assert examples.shape == (2, 1, 96, 64)
    np.testing.assert_allclose(examples, np.log(0.01), rtol=1e-6)


def test_stereo_is_averaged_and_int16_scaled():
    left = tone(1000, 1.0)
    # Opposite channels cancel in the mean: silence.
    stereo = np.stack([left, -left], axis=1)
    np.testing.assert_allclose(
        waveform_to_log_mel_examples(stereo, SR), np.log(0.01), rtol=1e-6)
    pcm = np.round(left * 32767).astype(np.int16)
    np.testing.assert_allclose(
        waveform_to_log_mel_examples(pcm, SR),
        waveform_to_log_mel_examples(pcm / 32768.0, SR),
        atol=1e-5)


def test_resampling_keeps_the_tone_band():
    examples = waveform_to_log_mel_examples(tone(1000, 2.0, 44100), 44100)
    assert examples.shape == (2, 1, 96, 64)
    assert int(examples[:, 0].mean(axis=(0, 1)).argmax()) == nearest_band(1000)
    reference = waveform_to_log_mel_examples(tone(1000, 2.0), SR)
    # Around the tone the levels agree; far bands differ only at the noise
    # floor, where the resampling filter's leakage is all there is.
    band = nearest_band(1000)
    np.testing.assert_allclose(
        examples[:, :, 10:-10, band - 3:band + 4],
        reference[:, :, 10:-10, band - 3:band + 4],
        atol=0.02)


def test_fit_num_examples_repeats_the_last():
    examples = np.arange(3, dtype=np.float32).reshape(3, 1)
    np.testing.assert_array_equal(
        fit_num_examples(examples, 5)[:, 0], [0, 1, 2, 2, 2])
    np.testing.assert_array_equal(fit_num_examples(examples, 2)[:, 0], [0, 1])
    with pytest.raises(ValueError):
        fit_num_examples(examples[:0], 5)


def test_wav_file_gives_the_same_examples(tmp_path):
    pcm = np.round(tone(2000, 3.0) * 32767).astype(np.int16)
    path = tmp_path / 'a.wav'
    soundfile.write(str(path), pcm, SR, subtype='PCM_16')
    np.testing.assert_array_equal(
        file_to_log_mel_examples(str(path)),
        waveform_to_log_mel_examples(pcm, SR))


def _write_mp4_with_sound(path, freq, seconds, rate=44100):
    import av
    container = av.open(str(path), 'w')
    stream = container.add_stream('aac', rate=rate)
    stream.layout = 'stereo'
    signal = tone(freq, seconds, rate, 0.3).astype(np.float32)
    planes = np.stack([signal, signal])
    for start in range(0, planes.shape[1], 1024):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(planes[:, start:start + 1024]),
            format='fltp',
            layout='stereo')
        frame.sample_rate = rate
        frame.pts = start
        frame.time_base = fractions.Fraction(1, rate)
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
    container.close()


def test_video_sound_track_through_pyav(tmp_path):
    path = tmp_path / 'clip.mp4'
    _write_mp4_with_sound(path, 1000, 2.2)
    waveform, rate = audio.read_video_soundtrack(str(path))
    assert rate == 44100
    # AAC adds priming samples; the length is about right.
    assert abs(waveform.shape[0] / rate - 2.2) < 0.1
    examples = file_to_log_mel_examples(str(path))
    assert examples.shape == (2, 1, 96, 64)
    assert int(examples[:, 0].mean(axis=(0, 1)).argmax()) == nearest_band(1000)


def test_video_sound_track_is_the_mean_of_the_channels(tmp_path):
    # The data sets and the inferencer decode with the same reader.
    path = tmp_path / 'clip.mp4'
    _write_mp4_with_sound(path, 440, 1.0, rate=22050)
    track = video_io.read_audio_track(str(path))
    assert track.samples.shape[0] == 2 and track.layout == 'stereo'
    waveform, rate = audio.read_video_soundtrack(path)
    assert rate == track.sample_rate == 22050
    assert waveform.dtype == np.float64
    np.testing.assert_array_equal(
        waveform, track.samples.astype(np.float64).mean(axis=0))


def test_broken_video_names_the_file(tmp_path):
    whole = tmp_path / 'whole.mp4'
    _write_mp4_with_sound(whole, 440, 2.0)
    # PyAV writes the mp4 index at the end: a cut file cannot be opened.
    (tmp_path / 'cut.mp4').write_bytes(whole.read_bytes()[:2000])
    (tmp_path / 'empty.mp4').write_bytes(b'')
    (tmp_path / 'junk.mkv').write_bytes(b'not a video at all' * 100)
    (tmp_path / 'folder.mp4').mkdir()
    for name, problem in [('gone.mp4', 'file is missing'),
                          ('empty.mp4', r'file is empty \(0 bytes\)'),
                          ('junk.mkv', 'cannot open'),
                          ('cut.mp4', 'cannot open.*truncated'),
                          ('folder.mp4', 'is a directory')]:
        path = tmp_path / name
        with pytest.raises(AVSDataError, match=problem) as info:
            file_to_log_mel_examples(str(path))
        assert str(path) in str(info.value)
        assert isinstance(info.value, video_io.VideoReadError)


def test_video_sound_track_without_pyav(tmp_path, monkeypatch):
    path = tmp_path / 'clip.mp4'
    _write_mp4_with_sound(path, 440, 1.0)
    # PyAV is optional and imported only when a file is decoded.
    monkeypatch.setitem(sys.modules, 'av', None)
    with pytest.raises(ImportError, match='needs PyAV'):
        audio.read_video_soundtrack(str(path))


@pytest.mark.parametrize('content,problem', [
    (b'', 'zero-length'),
    (b'RIFF....WAVEjunk' * 4, 'cannot read audio'),
])
def test_broken_wav_names_the_file(tmp_path, content, problem):
    path = tmp_path / 'broken.wav'
    path.write_bytes(content)
    with pytest.raises(AVSDataError, match=problem) as info:
        file_to_log_mel_examples(str(path))
    assert str(path) in str(info.value)


def test_wav_without_samples_and_missing_wav(tmp_path):
    empty = tmp_path / 'empty.wav'
    soundfile.write(str(empty), np.zeros(0, np.int16), SR, subtype='PCM_16')
    assert empty.stat().st_size > 0  # a header, but no samples
    with pytest.raises(AVSDataError, match='zero-length') as info:
        file_to_log_mel_examples(str(empty))
    assert str(empty) in str(info.value)
    with pytest.raises(AVSDataError, match='missing'):
        file_to_log_mel_examples(str(tmp_path / 'nope.wav'))


def test_pickled_tensor_and_array_load_safely(tmp_path):
    tensor = torch.randn(5, 1, 96, 64)
    np.testing.assert_array_equal(
        load_pickled_array(pickle.dumps(tensor)), tensor.numpy())
    array = np.ones((5, 128), np.float32)
    path = tmp_path / 'a.pkl'
    path.write_bytes(pickle.dumps(array))
    np.testing.assert_array_equal(load_pickled_array(str(path)), array)

    class Evil:

        def __reduce__(self):
            return (print, ('pwned', ))

    with pytest.raises(AVSDataError, match='refusing to load builtins.print'):
        load_pickled_array(pickle.dumps(Evil()))
    with pytest.raises(AVSDataError, match='expected a pickled tensor'):
        load_pickled_array(pickle.dumps([1, 2]))
    with pytest.raises(AVSDataError, match='empty'):
        load_pickled_array(b'')


def test_pickle_from_bytes_io_roundtrip():
    generator = torch.Generator().manual_seed(0)
    tensor = torch.randn(2, 128, generator=generator)
    # A transposed view too: its storage order differs from its shape's.
    for value in (tensor, torch.randn(128, 3, generator=generator).t()):
        buffer = io.BytesIO()
        pickle.dump(value, buffer)  # as the release writes its files
        loaded = load_pickled_array(buffer.getvalue())
        assert loaded.dtype == np.float32
        np.testing.assert_array_equal(loaded, value.numpy())
