# Copyright (c) mmavs contributors. All rights reserved.
"""The video inferencer, in stages: input sources (:mod:`.sources`),
frame sampling and audio windows (:mod:`.sampling`), clip batching
(:mod:`.batching`), per-frame outputs and the summary (:mod:`.outputs`),
the files written while a video streams (:mod:`.writers`, in the threads
of :mod:`.threads`), one input frame by frame (:mod:`.stream`) and
:class:`AVSInferencer`, which runs them."""
from .avs_inferencer import AVSInferencer
from .batching import ClipBatch, ClipBatcher, InOrder, deal_clips
from .configs import find_config
from .outputs import (SegmentedFrame, SummaryBuilder, prediction_to_frame,
                      unique_name)
from .sampling import (AudioWindows, FrameSample, FrameSampler, parse_fps,
                       window_centre, window_of)
from .sources import InputSource, load_source
from .stream import FrameStream

__all__ = [
    'AVSInferencer', 'ClipBatch', 'ClipBatcher', 'InOrder', 'deal_clips',
    'find_config', 'FrameStream', 'SegmentedFrame', 'SummaryBuilder',
    'prediction_to_frame', 'unique_name', 'AudioWindows', 'FrameSample',
    'FrameSampler', 'parse_fps', 'window_centre', 'window_of', 'InputSource',
    'load_source'
]
