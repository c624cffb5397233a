# Copyright (c) mmavs contributors. All rights reserved.
from .avs_visualizer import AVSLocalVisualizer, overlay_mask
from .display import check_display

__all__ = ['AVSLocalVisualizer', 'check_display', 'overlay_mask']
