# Copyright (c) mmavs contributors. All rights reserved.
from .avs_binary_metric import AVSBinaryMetric
from .avs_semantic_metric import AVSSemanticMetric, bit_interleave_palette
from .base_avs_metric import BaseAVSClipMetric

__all__ = [
    'AVSBinaryMetric', 'AVSSemanticMetric', 'BaseAVSClipMetric',
    'bit_interleave_palette'
]
