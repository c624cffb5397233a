# Copyright (c) mmavs contributors. All rights reserved.
"""The command blocks of README.md and docs/*.md run as written.

Each ```bash / ```shell / ```python block runs, in document order, in a
copy of the checkout (so that what the commands write stays out of it),
with the test environment's ``python``, ``mmavs-demo`` and ``mim`` first on
the PATH, after a small ``make demo`` (its model is what the README's
commands use). A block that cannot run here (real AVSBench, a GPU, a cluster,
hours of training) says why in an HTML comment on the line before its
fence::

    <!-- docs-test: skip (needs AVSBench) -->

Every other block must pass: the docs cannot rot unnoticed.
"""
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
from typing import List, NamedTuple, Optional

import pytest

from mmavs.testing._utils import REPO_ROOT

DOCS = ['README.md'] + sorted(
    f'docs/{name}' for name in os.listdir(osp.join(REPO_ROOT, 'docs'))
    if name.endswith('.md'))
LANGUAGES = ('bash', 'shell', 'python')
SKIP = re.compile(r'<!--\s*docs-test:\s*skip\s*\((.+?)\)\s*-->')


class Block(NamedTuple):
    """A fenced code block of a markdown file."""

    path: str
    line: int
    language: str
    code: str
    skip: Optional[str]


def code_blocks(path: str) -> List[Block]:
    """The bash/shell/python blocks of a markdown file, with their skip
    reasons (None: the block runs)."""
    with open(osp.join(REPO_ROOT, path), encoding='utf-8') as file:
        lines = file.read().splitlines()
    blocks, index = [], 0
    while index < len(lines):
        fence = re.match(r'^```(\w+)\s*$', lines[index])
        if not fence:
            index += 1
            continue
        end = index + 1
        while not lines[end].startswith('```'):
            end += 1
        before = [text for text in lines[max(0, index - 2):index] if text]
        skip = SKIP.search(before[-1]) if before else None
        if fence.group(1) in LANGUAGES:
            blocks.append(
                Block(path, index + 1, fence.group(1),
                      '\n'.join(lines[index + 1:end]),
                      skip.group(1) if skip else None))
        index = end + 1
    return blocks


def test_block_parser():
    """Fences, languages and skip comments are read as documented."""
    blocks = code_blocks('tests/data/docs_blocks.md')
    assert [(b.line, b.language, b.skip) for b in blocks] == [
        (3, 'bash', None), (8, 'python', 'needs a GPU'), (12, 'shell', None)
    ]
    assert blocks[0].code == 'echo one\necho two'


@pytest.fixture(scope='module')
def sandbox(tmp_path_factory):
    """A copy of the checkout to run the commands in, with what the
    README's first command leaves behind: ``make demo``'s model
    (``work_dirs/demo/model.pth``), here from a one-epoch demo on a few
    clips."""
    root = tmp_path_factory.mktemp('docs') / 'mmavs'
    shutil.copytree(
        REPO_ROOT, root,
        ignore=shutil.ignore_patterns('.git', 'work_dirs', 'build', 'dist',
                                      '*.egg-info', '__pycache__', '.mim',
                                      '.pytest_cache', 'data', 'outputs',
                                      'vis', 'results', 'checkpoints'))
    demo = run_block(
        Block('make demo', 0, 'bash',
              'python tools/demo/synthetic_demo.py --work-dir work_dirs/demo '
              '--num-train 8 --num-test 4 --epochs 1', None), root)
    assert demo.returncode == 0, demo.stderr[-3000:]
    return root


def run_block(block: Block, cwd) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env['PATH'] = osp.dirname(sys.executable) + os.pathsep + env['PATH']
    env['MPLBACKEND'] = 'Agg'
    if block.language == 'python':
        args = [sys.executable, '-c', block.code]
    else:
        args = ['bash', '-e', '-o', 'pipefail', '-c', block.code]
    return subprocess.run(
        args, cwd=str(cwd), env=env, capture_output=True, text=True,
        timeout=900)


def runnable_docs() -> List[str]:
    """The docs with at least one block that is not skipped: only they are
    worth the ``sandbox`` (a demo training run)."""
    return [
        path for path in DOCS
        if any(not block.skip for block in code_blocks(path))
    ]


# The docs whose blocks all need what the tests lack (or that have none):
# listed so that a block gaining a runnable form, or losing it, is noticed
# rather than silently changing what test_doc_commands_run covers.
DOCS_WITHOUT_RUNNABLE_BLOCKS = [
    'docs/benchmark.md', 'docs/data_checks.md', 'docs/deploy.md',
    'docs/design.md'
]


def test_docs_without_runnable_blocks():
    """Exactly the listed docs have nothing to run; the others do."""
    assert sorted(set(DOCS) - set(runnable_docs())) == \
        DOCS_WITHOUT_RUNNABLE_BLOCKS
    assert 'README.md' in runnable_docs()


@pytest.mark.parametrize('path', runnable_docs())
def test_doc_commands_run(path, sandbox):
    """Every runnable block of ``path``, in order."""
    blocks = [block for block in code_blocks(path) if not block.skip]
    assert blocks, f'{path} has no runnable block'
    for block in blocks:
        result = run_block(block, sandbox)
        assert result.returncode == 0, (
            f'{path}:{block.line} failed:\n{block.code}\n--- output ---\n'
            f'{result.stdout[-2000:]}{result.stderr[-3000:]}')
