# Copyright (c) mmavs contributors. All rights reserved.
"""Whether windows can be shown here."""
import os
import re
import sys
from typing import Optional


def check_display(opencv: bool = True, window: Optional[str] = None) -> None:
    """Fail early, with a clear error, when windows cannot be shown.

    Without a display, OpenCV's Qt GUI aborts the whole process instead of
    raising, and matplotlib silently shows nothing: look before asking.

    Args:
        opencv (bool): Windows are OpenCV's (the inferencer's ``show``):
            also check that this OpenCV has a GUI (not
            ``opencv-python-headless``). Defaults to True.
        window (str, optional): With ``opencv``, open this window now.

    Raises:
        RuntimeError: No display, or (``opencv``) no GUI in OpenCV.
    """
    hint = ('showing windows needs a display' +
            (' and OpenCV built with a GUI (opencv-python, not '
             'opencv-python-headless)' if opencv else '') +
            '; write the drawings to files instead (out_dir / --show-dir)')
    if sys.platform.startswith('linux') and not (
            os.environ.get('DISPLAY') or os.environ.get('WAYLAND_DISPLAY')):
        raise RuntimeError(f'{hint} (no DISPLAY is set)')
    if not opencv:
        return
    import cv2
    gui = re.search(r'GUI:\s*(\S+)', cv2.getBuildInformation())
    if gui is not None and gui.group(1).upper() == 'NONE':
        raise RuntimeError(f'{hint} (this OpenCV has no GUI)')
    if window is not None:
        try:
            cv2.namedWindow(window)
        except cv2.error as error:
            raise RuntimeError(hint) from error
