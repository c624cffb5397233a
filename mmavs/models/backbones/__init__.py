# Copyright (c) mmavs contributors. All rights reserved.
from .vggish import VGGish

__all__ = ['VGGish']
