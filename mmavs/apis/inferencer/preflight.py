# Copyright (c) mmavs contributors. All rights reserved.
"""Checks that run before any input is decoded, so that a bad argument
fails at once instead of after a whole video was segmented."""
import os
import os.path as osp
import tempfile
from typing import Optional

import torch


def _file_in_the_way(folder: str) -> str:
    """The first existing path on the way to ``folder`` that is not a
    folder, or ''."""
    path = osp.abspath(folder)
    while not osp.exists(path):
        parent = osp.dirname(path)
        if parent == path:
            return ''
        path = parent
    return '' if osp.isdir(path) else path


def check_out_dir(out_dir: str) -> None:
    """Make sure outputs can be written under ``out_dir``.

    The folder is created (with its parents) and a temporary file is
    written to it and removed: that is the only reliable test (permissions,
    read-only mounts, a file in the way; ``os.access`` says yes to root).

    Args:
        out_dir (str): The output folder.

    Raises:
        OSError: The folder cannot be created or written:
            ``NotADirectoryError`` when a file is in the way, else the
            underlying error's type (``PermissionError``, ...); the message
            names the folder and the reason.
    """
    try:
        os.makedirs(out_dir, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as error:
        blocker = _file_in_the_way(out_dir)
        reason = (f'{blocker} is a file, not a folder'
                  if blocker else error.strerror or str(error))
        kind = NotADirectoryError if blocker else type(error)
        raise kind(f'output folder {out_dir}: cannot write there ({reason})'
                   ) from error


def check_device(device: Optional[str]) -> None:
    """Refuse a device name torch does not know, or a GPU this machine
    lacks, before the model is built.

    Args:
        device (str, optional): ``'cpu'``, ``'cuda'``, ``'cuda:1'``, ...
            None picks CUDA when available.

    Raises:
        ValueError: Not a device name, CUDA asked for but not available,
            or a CUDA index past the machine's GPUs.
    """
    if device is None:
        return
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f'device={device!r} is not a device name (cpu, '
                         f'cuda, cuda:1, ...): {error}') from None
    if parsed.type != 'cuda':
        return
    if not torch.cuda.is_available():
        raise ValueError(f'device={device!r} but CUDA is not available '
                         'on this machine; use device="cpu"')
    if parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise ValueError(f'device={device!r} but this machine has '
                         f'{torch.cuda.device_count()} GPU(s)')
