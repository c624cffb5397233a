# Copyright (c) mmavs contributors. All rights reserved.
from .avs_visualizer import AVSLocalVisualizer, overlay_mask

__all__ = ['AVSLocalVisualizer', 'overlay_mask']
