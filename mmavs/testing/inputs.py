# Copyright (c) mmavs contributors. All rights reserved.
"""Tiny hand-made inferencer inputs: frames at given times, a tone track
and an :class:`~mmavs.apis.inferencer.sources.InputSource` over them (no
file, no codec)."""
from typing import Optional, Sequence

import numpy as np

from mmavs.datasets.video_io import AudioTrack, VideoFrame


def frames_at(times: Sequence[float],
              durations: Optional[Sequence[float]] = None,
              size=(4, 6)) -> list:
    """Synthetic frames at ``times``; frame i is filled with i (mod 256).

    Args:
        times (Sequence[float]): Presentation times (s).
        durations (Sequence[float], optional): Their display durations.
        size (tuple[int, int]): (H, W).

    Returns:
        list[VideoFrame]: The frames.
    """
    return [
        VideoFrame(i, float(t), None if durations is None else durations[i],
                   np.full(tuple(size) + (3, ), i % 256, np.uint8))
        for i, t in enumerate(times)
    ]


def regular(num: int, rate: float, first: int = 0, size=(4, 6)) -> list:
    """``num`` frames at ``rate`` fps, the first at ``first / rate`` (times
    are exact quotients, as decoders give them)."""
    return frames_at([(first + i) / rate for i in range(num)],
                     [1.0 / rate] * num, size)


def tone_track(seconds: float,
               amplitude: float = 0.3,
               start: float = 0.0,
               sample_rate: int = 16000) -> AudioTrack:
    """A 440 Hz mono tone of ``seconds``, starting at ``start`` (s)."""
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    wave = amplitude * np.sin(2 * np.pi * 440 * t)
    return AudioTrack(wave[None].astype(np.float32), sample_rate, start,
                      'mono')


def make_source(frames: list,
                audio: Optional[AudioTrack] = None,
                rate: Optional[float] = None,
                kind: str = 'arrays',
                name: str = 'src'):
    """An InputSource over in-memory frames (``kind='video'`` names it
    like a file, ``/videos/<name>.mp4``)."""
    from mmavs.apis.inferencer.sources import InputSource
    return InputSource(
        name=name,
        source='<array>' if kind == 'arrays' else f'/videos/{name}.mp4',
        kind=kind,
        frames=lambda: iter(frames),
        frame_rate=rate,
        audio=audio)
