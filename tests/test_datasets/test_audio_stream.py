# Copyright (c) mmavs contributors. All rights reserved.
"""The VGGish front end on sound in pieces equals it on the whole sound;
a file's sound read in pieces equals it read at once."""
import numpy as np
import pytest
from scipy.signal import resample_poly

from mmavs.datasets.audio import log_mel_spectrogram
from mmavs.datasets.audio_stream import LogMelStream, StreamingResampler


@pytest.mark.parametrize('rate', [48000, 44100, 22050, 32000, 8000, 11025,
                                  96000, 16000])
def test_streaming_resampler_equals_resample_poly(rate):
    from math import gcd
    rng = np.random.default_rng(rate)
    up, down = 16000 // gcd(rate, 16000), rate // gcd(rate, 16000)
    for length in (1, 5, 999, 23457):
        signal = rng.standard_normal(length)
        expected = resample_poly(signal, up, down)
        for chunk in (1, 7, 1000, 50000):
            resampler = StreamingResampler(rate, 16000)
            pieces = [resampler.push(signal[i:i + chunk])
                      for i in range(0, length, chunk)]
            got = np.concatenate(pieces + [resampler.finish()])
            # The same sums over the same samples: equal, bit for bit.
            np.testing.assert_array_equal(got, expected,
                                          err_msg=f'{length} / {chunk}')


def test_streaming_resampler_keeps_little_input():
    resampler = StreamingResampler(44100, 16000)
    for _ in range(100):
        resampler.push(np.zeros(4410))  # 10 s in all
    assert len(resampler._buffer) < 4410 + 200  # one piece and the filter
    with pytest.raises(ValueError, match='positive'):
        StreamingResampler(0, 16000)


def test_log_mel_stream_equals_the_whole_spectrogram():
    rng = np.random.default_rng(0)
    signal = 0.1 * rng.standard_normal(50000)
    offset = 8160
    padded = np.concatenate([np.zeros(offset), signal, np.zeros(20000)])
    whole = log_mel_spectrogram(padded)
    stream = LogMelStream(
        (signal[i:i + 1234] for i in range(0, len(signal), 1234)), offset)
    for first in range(0, len(whole) - 96, 37):
        np.testing.assert_array_equal(stream.frames(first, first + 96),
                                      whole[first:first + 96])
        stream.release(first)
    # About one example's worth of samples is kept, not the signal.
    assert len(stream._samples) < 2 * 15600
    with pytest.raises(RuntimeError, match='was released'):
        stream.frames(0, 10)
    # Past the end of the signal: frames of silence.
    far = stream.frames(len(whole) + 50, len(whole) + 60)
    np.testing.assert_array_equal(far, np.log(0.01).astype(np.float32))
