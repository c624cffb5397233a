# Copyright (c) mmavs contributors. All rights reserved.
from .pvt import OriginalPVTv2
from .vggish import VGGish

__all__ = ['OriginalPVTv2', 'VGGish']
