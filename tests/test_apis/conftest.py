# Copyright (c) mmavs contributors. All rights reserved.
"""Short test videos written with PyAV, and a tiny random inferencer."""
import warnings
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

# PyAV is an optional dependency (requirements/optional.txt).
pytest.importorskip('av')

DEMO_CONFIG = 'avsegformer-tiny_r18_1xb8-8e_synthetic-s4-64x64'


def synth_frames(num_frames: int, size=(48, 64)) -> np.ndarray:
    """uint8 [N, H, W, 3] BGR: a white square moving over a colour ramp."""
    height, width = size
    frames = np.zeros((num_frames, height, width, 3), np.uint8)
    for index in range(num_frames):
        frames[index, :, :, 1] = (index * 7) % 256
        frames[index, :, :, 2] = np.linspace(0, 255, width)[None]
        left = (index * 3) % max(width - 8, 1)
        frames[index, height // 4:height // 4 + 8, left:left + 8] = 255
    return frames


def tone(seconds: float,
         sample_rate: int = 16000,
         start: float = 0.0,
         channels: int = 1) -> np.ndarray:
    """float32 [C, S]: a 440 Hz tone that starts at ``start`` seconds."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    wave = 0.3 * np.sin(2 * np.pi * 440 * t) * (t >= start)
    return np.repeat(wave[None].astype(np.float32), channels, axis=0)


def write_test_video(path,
                     seconds: float = 3.2,
                     fps: float = 10,
                     size=(48, 64),
                     audio='tone',
                     video: bool = True,
                     jitter: bool = False,
                     vcodec: str = 'libx264',
                     pix_fmt: str = 'yuv420p',
                     acodec: str = 'aac',
                     sample_rate: int = 16000,
                     channels: int = 1,
                     tone_start: float = 0.0,
                     options=None) -> str:
    """Write a short video with PyAV.

    Args:
        path: Output file; the extension picks the container.
        seconds (float): Length of picture and sound.
        fps (float): Frame rate.
        size (tuple): (H, W). Odd sizes need a codec like ffv1.
        audio (str | None): ``'tone'``, ``'silence'`` or None (no audio
            stream).
        video (bool): Write a video stream.
        jitter (bool): Variable frame rate: frame intervals drawn from
            [0.5, 1.5] / fps (1 ms clock).
        vcodec, pix_fmt, acodec: Codecs.
        sample_rate (int), channels (int): Audio format.
        tone_start (float): The tone starts here (silence before).
        options (dict, optional): Container options (e.g. faststart).

    Returns:
        str: ``path``.
    """
    import av
    path = str(path)
    num_frames = int(round(seconds * fps))
    container = av.open(path, 'w', options=options or {})
    if video:
        stream = container.add_stream(vcodec, rate=Fraction(fps))
        stream.height, stream.width = size
        stream.pix_fmt = pix_fmt
        time_base = Fraction(1, 1000) if jitter else 1 / Fraction(fps)
        stream.codec_context.time_base = time_base
    if audio is not None:
        audio_stream = container.add_stream(acodec, rate=sample_rate)
        audio_stream.layout = 'mono' if channels == 1 else 'stereo'
    if video:
        rng = np.random.default_rng(0)
        time = 0.0
        for index, image in enumerate(synth_frames(num_frames, size)):
            frame = av.VideoFrame.from_ndarray(image, format='bgr24')
            frame.time_base = time_base
            if jitter:
                frame.pts = int(round(time * 1000))
                time += rng.uniform(0.5, 1.5) / fps
            else:
                frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    if audio is not None:
        samples = tone(seconds, sample_rate, tone_start, channels)
        if audio == 'silence':
            samples[:] = 0
        for begin in range(0, samples.shape[1], 4096):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, begin:begin + 4096]),
                format='fltp',
                layout='mono' if channels == 1 else 'stereo')
            frame.sample_rate = sample_rate
            frame.pts = begin
            frame.time_base = Fraction(1, sample_rate)
            for packet in audio_stream.encode(frame):
                container.mux(packet)
        for packet in audio_stream.encode():
            container.mux(packet)
    container.close()
    return path


@pytest.fixture(scope='session')
def helpers():
    """The video/sound makers of this file (test folders are not packages,
    so test modules get them through this fixture)."""
    return SimpleNamespace(
        write_test_video=write_test_video,
        tone=tone,
        synth_frames=synth_frames,
        TinyAudio=TinyAudio)


@pytest.fixture(scope='session')
def videos(tmp_path_factory):
    """Test videos shared by the tests (read-only)."""
    root = tmp_path_factory.mktemp('videos')
    return dict(
        # 3.2 s, 10 fps, 48x64, H.264 + AAC tone.
        mp4=write_test_video(root / 'tone.mp4'),
        # Odd size, lossless codec (H.264 4:2:0 needs even sizes), flac.
        odd=write_test_video(
            root / 'odd.mkv',
            seconds=2.2,
            size=(33, 47),
            vcodec='ffv1',
            pix_fmt='bgr0',
            acodec='flac'),
        # Variable frame rate: 1 ms clock, intervals 0.05-0.15 s.
        vfr=write_test_video(root / 'vfr.mp4', seconds=2.4, jitter=True),
    )


class TinyAudio(nn.Module):
    """Stands in for VGGish (~1 GFLOP per example) in the slower tests:
    [N, 1, 96, 64] log-mel -> [N, 128], still depending on the sound."""

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        return log_mel.mean(dim=(1, 2)).repeat(1, 2)


@pytest.fixture(scope='session')
def session_inferencer():
    """The demo model with random weights, built once."""
    from mmavs.apis import AVSInferencer
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        inferencer = AVSInferencer(DEMO_CONFIG, device='cpu')
    return inferencer


@pytest.fixture
def inferencer(session_inferencer):
    """The shared inferencer with its real (random) VGGish."""
    session_inferencer.interleave_clips = False
    session_inferencer.num_frames = 5
    return session_inferencer


@pytest.fixture
def fast_inferencer(session_inferencer):
    """The shared inferencer with a tiny audio backbone."""
    # Swapped by hand: pytest's monkeypatch looks for the old value in the
    # instance __dict__, where nn.Module does not keep submodules.
    model = session_inferencer.model
    vggish = model.audio_backbone
    model.audio_backbone = TinyAudio()
    session_inferencer.interleave_clips = False
    session_inferencer.num_frames = 5
    try:
        yield session_inferencer
    finally:
        model.audio_backbone = vggish
