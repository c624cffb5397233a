# Copyright (c) mmavs contributors. All rights reserved.
"""mmavs models; importing registers them into ``mmseg.registry.MODELS``."""
import mmseg.models  # noqa: F401  (mmseg's own modules first)

from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .decode_heads import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .necks import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
