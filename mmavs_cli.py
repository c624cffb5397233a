# Copyright (c) mmavs contributors. All rights reserved.
"""``mmavs-demo``, the console script: starts without importing mmavs.

The parser lives in the package (:mod:`mmavs.apis.cli_args`), but importing
anything under ``mmavs`` runs ``mmavs/__init__``, which loads torch, mmcv
and mmseg for several seconds. This shim loads that one file by its path
instead (it imports only the standard library), so that ``--help`` and
argument errors answer at once; its ``main`` imports the package only to
run. Nothing here may import torch or mmavs.
"""
import importlib.util
import os.path as osp
import sys
from typing import List, Optional


def _cli_args():
    """mmavs/apis/cli_args.py of the mmavs that ``import mmavs`` would
    import, loaded on its own."""
    if 'mmavs.apis.cli_args' in sys.modules:
        return sys.modules['mmavs.apis.cli_args']
    spec = importlib.util.find_spec('mmavs')
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('mmavs-demo cannot find the mmavs package; '
                          'install it with `pip install -e .`')
    path = osp.join(list(spec.submodule_search_locations)[0], 'apis',
                    'cli_args.py')
    module_spec = importlib.util.spec_from_file_location(
        '_mmavs_cli_args', path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``mmavs-demo``: parse the arguments, then import mmavs and run
    them (:func:`mmavs.apis.cli.run`).

    Args:
        argv (list[str], optional): Arguments without the program name.
            Defaults to ``sys.argv[1:]``.

    Returns:
        int: The exit status.
    """
    parser, args = _cli_args().parse_args(argv)
    from mmavs.apis.cli import run
    return run(parser, args)


if __name__ == '__main__':
    sys.exit(main())
