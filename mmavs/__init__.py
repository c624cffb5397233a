# Copyright (c) mmavs contributors. All rights reserved.
"""mmavs: audio-visual segmentation for the OpenMMLab ecosystem.

Importing the package checks the versions of the OpenMMLab stack, applies the
compatibility fixes of :mod:`mmavs.utils.compat` and registers every mmavs
component into mmsegmentation's registries.
"""
from importlib import import_module

from packaging.version import parse

from .version import __version__, version_info

# Ranges this release is tested with; the upper bounds follow mmseg 1.2.x,
# which asserts mmcv < 2.2.0 at import.
REQUIRED_VERSIONS = {
    'mmengine': ('0.10.4', '1.0.0'),
    'mmcv': ('2.0.0', '2.2.0'),
    'mmseg': ('1.2.0', '1.3.0'),
    'mmdet': ('3.1.0', '3.4.0'),
}
INSTALL_NAMES = {
    'mmengine': 'mmengine',
    'mmcv': 'mmcv',
    'mmseg': 'mmsegmentation',
    'mmdet': 'mmdet',
}
#: How to get mmcv, which pip does not install with mmavs (two
#: distributions provide it).
MMCV_HOW = ('`pip install "mmcv-lite>={low},<{high}"` on CPU-only machines, '
            'or full mmcv for its CUDA ops: `mim install "mmcv>={low},'
            '<{high}"`')


def check_versions(installed: dict = None) -> None:
    """Check that the OpenMMLab packages mmavs builds on have usable versions.

    Args:
        installed (dict, optional): Maps module names (``'mmcv'``, ...) to
            version strings. Read from the installed packages when omitted.

    Raises:
        ImportError: When a package is missing or out of range; the message
            names the package and the range to install.
    """
    problems = []
    for module_name, (low, high) in REQUIRED_VERSIONS.items():
        hint = (f'{INSTALL_NAMES[module_name]}>={low},<{high} '
                f'(`pip install -r requirements/mminstall.txt`)')
        if module_name == 'mmcv':
            hint = MMCV_HOW.format(low=low, high=high)
        if installed is not None:
            version = installed.get(module_name)
        else:
            try:
                version = import_module(module_name).__version__
            except ImportError:
                version = None
        if version is None:
            problems.append(f'{module_name} is not installed; install {hint}')
        elif not parse(low) <= parse(version) < parse(high):
            problems.append(f'{module_name}=={version} is installed, but '
                            f'mmavs {__version__} needs {hint}')
    if problems:
        raise ImportError('mmavs cannot be used with this environment:\n  ' +
                          '\n  '.join(problems))


check_versions()

from .utils.compat import apply_compat_patches  # noqa: E402

apply_compat_patches()

# An OpenMMLab package for mmengine: ``_base_ = 'mmavs::...'`` in configs of
# other projects, and model lookup by name (``list_models('mmavs')``).
from mmengine.config.utils import MODULE2PACKAGE  # noqa: E402

MODULE2PACKAGE.setdefault('mmavs', 'mmavs')

from . import datasets, engine, evaluation, models, visualization  # noqa: E402,F401,E501
from .utils import register_all_modules  # noqa: E402

__all__ = ['__version__', 'version_info', 'check_versions',
           'register_all_modules']
