# Copyright (c) mmavs contributors. All rights reserved.
from .tpavi import TPAVI, TPAVIBlock

__all__ = ['TPAVI', 'TPAVIBlock']
