# Copyright (c) mmavs contributors. All rights reserved.
from .avsegformer_head import AVSegFormerHead

__all__ = ['AVSegFormerHead']
