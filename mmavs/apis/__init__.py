# Copyright (c) mmavs contributors. All rights reserved.
"""Inference on your own videos: :class:`AVSInferencer`, video I/O and the
``mmavs-demo`` command line (:mod:`mmavs.apis.cli`)."""
from mmavs.datasets.video_io import (AudioTrack, VideoFrame, VideoInfo,
                                     VideoReadError, iter_video_frames,
                                     probe_video, read_audio_track,
                                     write_video)
from .inferencer import AudioWindows, AVSInferencer, find_config, summarize

__all__ = [
    'AVSInferencer', 'AudioWindows', 'find_config', 'summarize', 'AudioTrack',
    'VideoFrame', 'VideoInfo', 'VideoReadError', 'iter_video_frames',
    'probe_video', 'read_audio_track', 'write_video'
]
