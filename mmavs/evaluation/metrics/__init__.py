# Copyright (c) mmavs contributors. All rights reserved.
from .avs_binary_metric import AVSBinaryMetric
from .avs_semantic_metric import AVSSemanticMetric
from .base_avs_metric import BaseAVSClipMetric

__all__ = ['AVSBinaryMetric', 'AVSSemanticMetric', 'BaseAVSClipMetric']
