# Copyright (c) mmavs contributors. All rights reserved.
from .freeze_hook import FreezeModuleHook

__all__ = ['FreezeModuleHook']
