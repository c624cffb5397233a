# Copyright (c) mmavs contributors. All rights reserved.
"""Install mmavs: ``pip install -e .`` (extras ``[tests]``, ``[optional]``)."""
import os
import os.path as osp
import re
import shutil
import sys
from pathlib import Path

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_requirements(name):
    """Return the requirement lines of ``requirements/<name>.txt``.

    Comments, blank lines and ``-r`` includes are skipped.
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
    """Runtime requirements plus the OpenMMLab packages, without mmcv.

    As in mmsegmentation: mmcv is not a pip requirement, because two
    distributions provide it (full ``mmcv`` with CUDA ops, ``mmcv-lite``
    without) and pip cannot tell that either will do. Listing one made pip
    build full mmcv from source next to an installed mmcv-lite (in pip's
    isolated build environment nothing installed is visible). ``import
    mmavs`` checks mmcv's version and says how to install it.
    """
    return read_requirements('runtime') + read_requirements('mminstall')


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
    shutil.copy(
        osp.join(HERE, 'model-index.yml'),
        osp.join(HERE, 'mmavs', '.mim', 'model-index.yml'))


def mim_stubs():
    """Files that make ``mim`` work with an editable install.

    mim looks for ``<site-packages>/mmavs/.mim/{tools,configs,
    model-index.yml}`` (it asks pkg_resources where the distribution is,
    and an editable one is in site-packages, while the code stays in the
    checkout). So the editable wheel carries that folder, filled with stubs
    that point into the checkout: edits to tools and configs take effect
    without reinstalling. The folder has no ``__init__.py``; ``import
    mmavs`` still finds the checkout's package, a regular package, which
    Python prefers to a namespace portion wherever they are on sys.path.

    Returns:
        dict[str, str]: Path inside the wheel -> content.
    """
    stubs = {}
    for folder in ('tools', 'configs'):
        for root, dirs, files in os.walk(osp.join(HERE, folder)):
            dirs[:] = [d for d in dirs if d != '__pycache__']
            for name in files:
                real = osp.join(root, name)
                inside = osp.relpath(real, HERE).replace(os.sep, '/')
                if folder == 'tools' and name.endswith('.py'):
                    content = (
                        '# mmavs editable install: runs the checkout\'s '
                        'tool (for mim).\nimport runpy\nimport sys\n\n'
                        f'sys.argv[0] = {real!r}\n'
                        f'runpy.run_path({real!r}, run_name=\'__main__\')\n')
                elif folder == 'configs' and name.endswith('.py') and \
                        '_base_' not in inside.split('/'):
                    content = ('# mmavs editable install: the checkout\'s '
                               f'config.\n_base_ = [{real!r}]\n')
                else:
                    continue
                stubs[f'mmavs/.mim/{inside}'] = content
    imports = [
        osp.join(HERE, 'configs', folder, 'metafile.yaml')
        for folder in sorted(os.listdir(osp.join(HERE, 'configs')))
        if osp.isfile(osp.join(HERE, 'configs', folder, 'metafile.yaml'))
    ]
    stubs['mmavs/.mim/model-index.yml'] = 'Import:\n' + ''.join(
        f'- {path}\n' for path in imports)
    return stubs


def editable_wheel_command():
    """setuptools' ``editable_wheel``, adding :func:`mim_stubs` and putting
    the checkout on sys.path (setuptools' default, a meta path finder,
    would lose to the stubs' ``mmavs`` folder).

    Returns None when this setuptools lacks what it builds on (PEP 660
    editable wheels, its private ``_StaticPth``): editable installs then
    work as setuptools makes them, without the stubs mim needs, and every
    other command is unaffected.
    """
    try:
        from setuptools.command.editable_wheel import (_StaticPth,
                                                       editable_wheel)
    except ImportError:
        return None

    class EditableWithMim(editable_wheel):

        def _select_strategy(self, name, tag, build_lib):
            if self.mode:  # the user asked for a mode: theirs, no stubs
                return super()._select_strategy(name, tag, build_lib)
            return _WithMimStubs(
                _StaticPth(self.distribution, name, [Path(HERE)]))

    class _WithMimStubs:

        def __init__(self, strategy):
            self.strategy = strategy

        def __call__(self, wheel, files, mapping):
            self.strategy(wheel, files, mapping)
            for path, content in mim_stubs().items():
                wheel.writestr(path, content)

        def __enter__(self):
            self.strategy.__enter__()
            return self

        def __exit__(self, *exc_info):
            return self.strategy.__exit__(*exc_info)

    return EditableWithMim


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
        # mmavs-demo parses its arguments here, without importing mmavs.
        py_modules=['mmavs_cli'],
        include_package_data=True,
        package_data={
            'mmavs': [
                '.mim/configs/*/*.py', '.mim/configs/*/*/*.py',
                '.mim/configs/*/*.md', '.mim/configs/*/*.yaml',
                '.mim/model-index.yml', '.mim/tools/*.py', '.mim/tools/*.sh',
                '.mim/tools/*/*.py', '.mim/tools/*/*.sh',
                '.mim/tools/*/*/*.tsv'
            ]
        },
        cmdclass={
            name: command
            for name, command in [('editable_wheel',
                                   editable_wheel_command())] if command
        },
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=install_requires(),
        extras_require={
            'tests': read_requirements('tests'),
            'optional': read_requirements('optional'),
            'deploy': read_requirements('deploy'),
            'openvino': ['openvino'],
            'all': read_requirements('tests') + read_requirements('optional')
            + read_requirements('deploy'),
        },
        entry_points={
            'console_scripts': ['mmavs-demo=mmavs_cli:main'],
        },
        zip_safe=False)
