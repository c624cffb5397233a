# Copyright (c) mmavs contributors. All rights reserved.
"""AVSBench metrics, registered into mmseg's ``METRICS``."""
from .functional import (binary_frame_stats, binary_iou, binary_pr_counts,
                         binary_scores, fscore_curve, fscore_thresholds,
                         semantic_class_scores, semantic_frame_stats)
from .metrics import AVSBinaryMetric, AVSSemanticMetric, BaseAVSClipMetric

__all__ = [
    'AVSBinaryMetric', 'AVSSemanticMetric', 'BaseAVSClipMetric',
    'binary_frame_stats', 'binary_iou',
    'binary_pr_counts', 'binary_scores', 'fscore_curve', 'fscore_thresholds',
    'semantic_class_scores', 'semantic_frame_stats'
]
