# Copyright (c) mmavs contributors. All rights reserved.
"""The video inferencer, in stages: input sources (:mod:`.sources`),
frame sampling and audio windows (:mod:`.sampling`), clip batching
(:mod:`.batching`), outputs (:mod:`.outputs`) and
:class:`AVSInferencer`, which runs them."""
from .avs_inferencer import AVSInferencer
from .batching import ClipBatch, ClipBatcher, InOrder, deal_clips
from .configs import find_config
from .outputs import (prediction_to_frame, summarize, unique_name,
                      write_outputs)
from .sampling import (AudioWindows, FrameSample, FrameSampler, parse_fps,
                       window_centre, window_of)
from .sources import InputSource, load_source

__all__ = [
    'AVSInferencer', 'ClipBatch', 'ClipBatcher', 'InOrder', 'deal_clips',
    'find_config', 'prediction_to_frame', 'summarize', 'unique_name',
    'write_outputs', 'AudioWindows', 'FrameSample', 'FrameSampler',
    'parse_fps', 'window_centre', 'window_of', 'InputSource', 'load_source'
]
