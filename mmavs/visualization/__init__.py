# Copyright (c) mmavs contributors. All rights reserved.
from .avs_visualizer import AVSLocalVisualizer, overlay_mask
from .display import check_display
from .mask_painter import MaskPainter

__all__ = ['AVSLocalVisualizer', 'MaskPainter', 'check_display',
           'overlay_mask']
