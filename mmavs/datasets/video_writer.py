# Copyright (c) mmavs contributors. All rights reserved.
"""Write videos: frames at their own times, with a sound track.

The inferencer's overlay videos go through :func:`write_video` (H.264 +
AAC in mp4, via PyAV); reading is in :mod:`mmavs.datasets.video_io`.
"""
import os
import os.path as osp
import warnings
from fractions import Fraction
from typing import Iterable, Optional, Tuple, Union

import numpy as np

from .video_io import AudioTrack, import_av

PathLike = Union[str, 'os.PathLike[str]']

#: Channel layouts FFmpeg's AAC encoder writes as they are.
AAC_LAYOUTS = ('mono', 'stereo', '3.0', '4.0', '5.0', '5.1', '6.1', '7.1',
               '5.0(side)', '5.1(side)', '7.1(wide)')


def pad_to_even(image: np.ndarray) -> np.ndarray:
    """Repeat the last row/column of an image whose size is odd.

    H.264 with 4:2:0 chroma (what every player decodes) needs even sizes.

    Args:
        image (np.ndarray): [H, W, 3].

    Returns:
        np.ndarray: [H + H % 2, W + W % 2, 3].
    """
    height, width = image.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return image
    return np.pad(
        image, ((0, height % 2), (0, width % 2), (0, 0)), mode='edge')


def write_video(path: PathLike,
                frames: Iterable[Tuple[np.ndarray, float]],
                frame_rate: float,
                audio: Optional[AudioTrack] = None,
                crf: int = 20,
                channel_order: str = 'rgb') -> str:
    """Encode frames (and a sound track) as an H.264 + AAC mp4.

    Frames keep their own times, so a variable frame rate survives. Odd
    frame sizes are padded by one row/column (see :func:`pad_to_even`).
    The sound is re-encoded as AAC at its own rate and layout (5.1 stays
    5.1; a layout the AAC encoder does not take is mixed down to stereo,
    with a warning) and placed at ``audio.start``.

    Args:
        path (str | PathLike): Output ``.mp4`` (or ``.mkv``/``.mov``).
        frames (Iterable[tuple[np.ndarray, float]]): ``(image, time)``
            pairs in time order: uint8 [H, W, 3] images (all the same size)
            and their presentation times in seconds.
        frame_rate (float): Nominal frame rate, a hint for the encoder's
            rate control and the container.
        audio (AudioTrack, optional): Sound to mux in.
        crf (int): x264 constant rate factor (0 = lossless, 23 = FFmpeg's
            default). Defaults to 20.
        channel_order (str): ``'rgb'`` or ``'bgr'`` images. Defaults to
            ``'rgb'``.

    Returns:
        str: ``path``.

    Raises:
        ValueError: No frames, or frames of different sizes.
    """
    av = import_av()
    if channel_order not in ('rgb', 'bgr'):
        raise ValueError(f"channel_order must be 'rgb' or 'bgr', got "
                         f'{channel_order!r}')
    frame_format = 'rgb24' if channel_order == 'rgb' else 'bgr24'
    # A 90 kHz clock (MPEG's) represents every common frame rate closely.
    time_base = Fraction(1, 90000)
    rate = Fraction(frame_rate).limit_denominator(1001) if frame_rate else 25
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    container = av.open(os.fspath(path), 'w')
    try:
        video = container.add_stream('libx264', rate=rate)
        video.pix_fmt = 'yuv420p'
        video.codec_context.time_base = time_base
        video.options = {'crf': str(crf)}
        audio_stream = None
        if audio is not None:
            channels = audio.samples.shape[0]
            # wav files often carry no layout ("1 channels"), which the AAC
            # encoder refuses: name the usual ones.
            layout = {1: 'mono', 2: 'stereo'}.get(channels, audio.layout)
            audio_stream = container.add_stream('aac', rate=audio.sample_rate)
            audio_stream.layout = _aac_layout(layout, channels, path)
        size, last_pts, count = None, -1, 0
        for image, time in frames:
            image = pad_to_even(np.ascontiguousarray(image, dtype=np.uint8))
            if size is None:
                size = image.shape[:2]
                video.height, video.width = size
            elif image.shape[:2] != size:
                raise ValueError(f'{os.fspath(path)}: frame {count} is '
                                 f'{image.shape[:2]}, the first frame was '
                                 f'{size}')
            frame = av.VideoFrame.from_ndarray(image, format=frame_format)
            pts = max(int(round(time / time_base)), last_pts + 1)
            frame.pts, frame.time_base = pts, time_base
            last_pts = pts
            for packet in video.encode(frame):
                container.mux(packet)
            count += 1
        if count == 0:
            raise ValueError(f'{os.fspath(path)}: no frames to write')
        for packet in video.encode():
            container.mux(packet)
        if audio_stream is not None:
            _encode_audio(container, audio_stream, audio, layout)
    finally:
        container.close()
    return os.fspath(path)


def _aac_layout(layout: str, channels: int, path: PathLike) -> str:
    """The layout the overlay's AAC track gets: the input's own (5.1 stays
    5.1) when FFmpeg's AAC encoder takes it, else stereo, with a warning."""
    av = import_av()
    if layout in AAC_LAYOUTS:
        try:
            av.AudioLayout(layout)
            return layout
        except Exception:  # not a layout this FFmpeg knows
            pass
    warnings.warn(f'{os.fspath(path)}: the {channels}-channel sound '
                  f'({layout or "no layout"}) is mixed down to stereo for '
                  'the AAC track')
    return 'stereo'


def _encode_audio(container, stream, audio: AudioTrack, layout: str) -> None:
    """Feed an :class:`AudioTrack` to an AAC stream, starting at its start.

    A track that starts before the picture loses its head; one that starts
    later is preceded by silence, so that it stays in sync on players that
    ignore start offsets.
    """
    av = import_av()
    samples = np.ascontiguousarray(audio.samples, dtype=np.float32)
    offset = int(round(audio.start * audio.sample_rate))
    if offset > 0:
        samples = np.concatenate(
            [np.zeros((samples.shape[0], offset), np.float32), samples],
            axis=1)
    elif offset < 0:
        samples = samples[:, -offset:]
    resampler = av.AudioResampler(
        format=stream.codec_context.format.name,
        layout=stream.codec_context.layout.name,
        rate=audio.sample_rate,
        frame_size=stream.codec_context.frame_size or 1024)
    step = 4096
    for begin in range(0, samples.shape[1], step):
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples[:, begin:begin + step]),
            format='fltp',
            layout=layout)
        frame.sample_rate = audio.sample_rate
        frame.pts = begin
        frame.time_base = Fraction(1, audio.sample_rate)
        for out in resampler.resample(frame):
            for packet in stream.encode(out):
                container.mux(packet)
    for out in resampler.resample(None):
        for packet in stream.encode(out):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
