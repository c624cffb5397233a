# Copyright (c) mmavs contributors. All rights reserved.
"""Install mmavs: ``pip install -e .`` (extras ``[tests]``, ``[optional]``)."""
import os.path as osp
import re
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name):
    """Return the requirement lines of ``requirements/<name>.txt``.

    Comments, blank lines and ``-r`` includes are skipped; ``mmcv`` is written
    as a plain range because both ``mmcv`` and ``mmcv-lite`` satisfy it at
    runtime (the import-time check in ``mmavs/__init__.py`` decides).
    """
    path = osp.join(HERE, 'requirements', f'{name}.txt')
    requirements = []
    with open(path) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line or line.startswith('-'):
                continue
            requirements.append(line)
    return requirements


def read_version():
    with open(osp.join(HERE, 'mmavs', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def install_requires():
    """Runtime requirements plus the OpenMMLab packages.

    ``mmcv`` is left out when ``mmcv-lite`` or ``mmcv`` is already installed:
    pip cannot know that the two distributions provide the same module, and
    would otherwise try to build full mmcv from source next to mmcv-lite.
    """
    from importlib.metadata import PackageNotFoundError, version
    requirements = read_requirements('runtime')
    for requirement in read_requirements('mminstall'):
        if requirement.startswith('mmcv'):
            try:
                version('mmcv-lite')
                continue
            except PackageNotFoundError:
                pass
        requirements.append(requirement)
    return requirements


def add_mim_extension():
    """Ship ``configs/`` and ``tools/`` inside the package as ``mmavs/.mim``.

    Like the OpenMMLab packages: after a regular, non-editable install the
    shipped config names resolve (e.g.
    ``AVSInferencer('avsegformer_r50_1xb4-30e_avsbench-s4-224x224')``) and
    ``mim train mmavs`` / ``mim test mmavs`` / ``mim run mmavs SCRIPT`` find
    the tools. Editable installs read the checkout and need no copy.
    """
    building = {'bdist_wheel', 'sdist', 'install', 'build', 'build_py'}
    if not building & set(sys.argv[1:]):
        return
    for folder in ('configs', 'tools'):
        target = osp.join(HERE, 'mmavs', '.mim', folder)
        if osp.isdir(target):
            shutil.rmtree(target)
        shutil.copytree(
            osp.join(HERE, folder), target,
            ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))


if __name__ == '__main__':
    add_mim_extension()
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        long_description = f.read()
    setup(
        name='mmavs',
        version=read_version(),
        description='Audio-visual segmentation (AVSegFormer, AVSBench) '
        'for the OpenMMLab ecosystem',
        long_description=long_description,
        long_description_content_type='text/markdown',
        keywords='audio-visual segmentation, mmsegmentation, AVSBench',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
        include_package_data=True,
        package_data={
            'mmavs': [
                '.mim/configs/*/*.py', '.mim/configs/*/*/*.py',
                '.mim/configs/*/*.md', '.mim/tools/*.py', '.mim/tools/*.sh',
                '.mim/tools/*/*.py', '.mim/tools/*/*.sh',
                '.mim/tools/*/*/*.tsv'
            ]
        },
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=install_requires(),
        extras_require={
            'tests': read_requirements('tests'),
            'optional': read_requirements('optional'),
            'all': read_requirements('tests') + read_requirements('optional'),
        },
        entry_points={
            'console_scripts': ['mmavs-demo=mmavs.apis.cli:main'],
        },
        zip_safe=False)
