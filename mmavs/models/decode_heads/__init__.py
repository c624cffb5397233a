# Copyright (c) mmavs contributors. All rights reserved.
from .avsbench_head import AVSBenchHead
from .avsegformer_head import AVSegFormerHead

__all__ = ['AVSBenchHead', 'AVSegFormerHead']
