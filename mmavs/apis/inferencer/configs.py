# Copyright (c) mmavs contributors. All rights reserved.
"""Find a shipped config by its name."""
import os
import os.path as osp
from difflib import get_close_matches
from typing import List


def config_roots() -> List[str]:
    """Where shipped configs are: ``configs/`` of a checkout, or
    ``mmavs/.mim/configs`` of an installed wheel.

    Returns:
        list[str]: Candidate folders (not all exist).
    """
    package = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    return [
        osp.join(osp.dirname(package), 'configs'),
        osp.join(package, '.mim', 'configs')
    ]


def find_config(name: str) -> str:
    """Find a shipped config by its name (with or without ``.py``).

    Args:
        name (str): E.g. ``'avsegformer_r50_1xb4-30e_avsbench-s4-224x224'``
            or a path relative to ``configs/``.

    Returns:
        str: The config file.

    Raises:
        ValueError: No shipped config has that name; the message lists the
            closest names.
    """
    stem = name[:-3] if name.endswith('.py') else name
    found = {}
    for root in config_roots():
        if not osp.isdir(root):
            continue
        if osp.isfile(osp.join(root, stem + '.py')):
            return osp.join(root, stem + '.py')
        for folder, _, files in os.walk(root):
            if '_base_' in folder.split(os.sep):
                continue
            for file in files:
                if file.endswith('.py'):
                    found.setdefault(file[:-3], osp.join(folder, file))
    if osp.basename(stem) in found:
        return found[osp.basename(stem)]
    close = get_close_matches(osp.basename(stem), list(found), n=5)
    hint = f'; did you mean {", ".join(close)}?' if close else ''
    raise ValueError(f'No config file or shipped config named {name!r}'
                     f'{hint}')
