# Copyright (c) mmavs contributors. All rights reserved.
from .light_audio import LightAudioEncoder, PrecomputedAudioFeatures
from .pvt import OriginalPVTv2
from .vggish import VGGish

__all__ = [
    'LightAudioEncoder', 'OriginalPVTv2', 'PrecomputedAudioFeatures', 'VGGish'
]
