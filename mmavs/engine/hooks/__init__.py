# Copyright (c) mmavs contributors. All rights reserved.
from .freeze_hook import FreezeModuleHook
from .random_state_hook import RandomStateHook
from .visualization_hook import AVSVisualizationHook

__all__ = ['AVSVisualizationHook', 'FreezeModuleHook', 'RandomStateHook']
