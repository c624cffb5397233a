# Copyright (c) mmavs contributors. All rights reserved.
"""Clip-level data transforms; importing registers them into
``mmseg.registry.TRANSFORMS``."""
from .clip_transform import ClipTransform
from .formatting import PackAVSInputs
from .loading import LoadAVSAnnotations, LoadAVSAudio, LoadAVSFrames

__all__ = [
    'ClipTransform', 'PackAVSInputs', 'LoadAVSAnnotations', 'LoadAVSAudio',
    'LoadAVSFrames'
]
