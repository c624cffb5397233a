# Copyright (c) mmavs contributors. All rights reserved.
"""Version of the mmavs package."""

__version__ = '0.1.0'
version_info = tuple(int(part) for part in __version__.split('.'))
