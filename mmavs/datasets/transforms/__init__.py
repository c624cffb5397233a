# Copyright (c) mmavs contributors. All rights reserved.
"""Clip-level data transforms; importing registers them into
``mmseg.registry.TRANSFORMS``."""
from .clip_transform import ClipTransform
from .formatting import PackAVSInputs
from .loading import (LoadAVSAnnotations, LoadAVSAudio, LoadAVSFrames,
                      decode_palette_mask, load_audio_array, read_binary_mask,
                      read_frame, read_palette_mask)

__all__ = [
    'ClipTransform', 'PackAVSInputs', 'LoadAVSAnnotations', 'LoadAVSAudio',
    'LoadAVSFrames', 'decode_palette_mask', 'load_audio_array',
    'read_binary_mask', 'read_frame', 'read_palette_mask'
]
