# Copyright (c) mmavs contributors. All rights reserved.
"""Break the code on purpose and check that the tests notice.

Each mutant below is one deliberate breakage ("mutant") of a promise the
README makes: a text replacement in one file, and the tests that must
fail when it is applied. The script copies the checkout (the files git
tracks or would track) to a temporary folder per mutant, applies the
replacement, runs the named tests there with this Python, and reports
each mutant as ``caught`` (the tests failed), ``MISSED`` (they passed) or
``BROKEN`` (pytest could not run them, e.g. an import error: a breakage
this crude proves nothing about the tests). Exit status 1 when any
mutant is not caught.

    python tools/misc/check_mutants.py              # every mutant
    python tools/misc/check_mutants.py listening-swap triton-dispatch
    python tools/misc/check_mutants.py --list
    python tools/misc/check_mutants.py --baseline   # unmutated copy too

A mutant may also hide modules from the tests (``hide``): the copy's
pytest then runs as if they were not installed (e.g. PyAV), to show that
tests which do not need them still run. ``tests/test_tools/
test_check_mutants.py`` keeps the list from going stale: every
replacement must still match its file exactly once.
"""
import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time
from typing import List, NamedTuple, Sequence, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: pytest plugin module written into the copy for ``hide``.
HIDE_PLUGIN = '_mmavs_hide_modules'


class Mutant(NamedTuple):
    """One deliberate breakage.

    Attributes:
        name (str): Short id, for the command line.
        why (str): What promise it breaks.
        path (str): File to change, relative to the checkout.
        old (str): Text that must occur exactly once in ``path``.
        new (str): What replaces it.
        tests (tuple[str]): pytest node ids or files that must fail.
        hide (tuple[str]): Modules the tests run without.
    """

    name: str
    why: str
    path: str
    old: str
    new: str
    tests: Tuple[str, ...]
    hide: Tuple[str, ...] = ()


MUTANTS: List[Mutant] = [
    Mutant(
        'listening-swap',
        'the listening report\'s "swapped" mode keeps the true audio',
        'mmavs/apis/listening.py',
        "_WRAPPERS = dict(swapped='AudioSwapDataset', "
        "silent='SilentAudioDataset')",
        "_WRAPPERS = dict(silent='SilentAudioDataset')",
        ('tests/test_apis/test_listening.py', )),
    Mutant(
        'triton-dispatch',
        "kernel='triton' runs the PyTorch path",
        'mmavs/ops/multi_scale_deform_attn.py',
        "    if chosen == 'pytorch':\n",
        "    if chosen in ('pytorch', 'triton'):\n",
        ('tests/test_ops/test_triton_ms_deform_attn.py', )),
    Mutant(
        'triton-amp-grad-rounding',
        'fp32 location and weight gradients are rounded to the half dtype '
        'of the value',
        'mmavs/ops/triton_ms_deform_attn.py',
        'grad_weight.to(grad_attn_ptr.dtype.element_ty)',
        'grad_weight.to(value_ptr.dtype.element_ty).to('
        'grad_attn_ptr.dtype.element_ty)',
        ('tests/test_ops/test_triton_ms_deform_attn.py'
         '::test_amp_dtypes_are_kept', )),
    Mutant(
        'short-wav-repeats-first',
        'audio shorter than its clip repeats its first example, not its '
        'last',
        'mmavs/datasets/audio.py',
        'pad = np.repeat(examples[-1:],',
        'pad = np.repeat(examples[:1],',
        ('tests/test_datasets/test_bad_data_files.py', )),
    Mutant(
        'import-cycle-through-reexport',
        'a module takes a name from the package __init__ that re-exports '
        'it (in a function, so every import still works): a cycle',
        'mmavs/datasets/readers.py',
        '    """Warn when a clip\'s sound does not cover its frames, or runs '
        'on."""\n',
        '    """Warn when a clip\'s sound does not cover its frames, or runs '
        'on."""\n    from mmavs.datasets import AVSDataError  # noqa: F401\n',
        ('tests/test_package_layout.py', )),
    Mutant(
        'editable-install-without-tool-stubs',
        '`pip install -e .` leaves out the mim stubs of the tools',
        'setup.py',
        "if folder == 'tools' and name.endswith('.py'):",
        "if folder == 'tools' and name.endswith('.sh'):",
        ('tests/test_engine/test_launchers.py'
         '::test_mim_with_the_editable_install', )),
    Mutant(
        'masks-written-without-pred-out-dir',
        "pred_out_dir='' still writes mask PNGs and names them in the "
        'summary',
        'mmavs/apis/inferencer/writers.py',
        'if self.folder is not None and options.pred_out_dir:',
        'if self.folder is not None:',
        ('tests/test_apis/test_inferencer_outputs.py'
         '::test_nothing_asked_for_writes_nothing', )),
    Mutant(
        'cuda-test-drops-compiled',
        'the CUDA comparison silently leaves out a kernel that cannot be '
        'built',
        'tests/test_ops/test_triton_ms_deform_attn.py',
        "            pytest.skip(f'no compiled kernel: {error}')",
        '            return',
        ('tests/test_ops/test_triton_ms_deform_attn.py'
         '::test_a_kernel_that_cannot_be_built_is_skipped_by_name', )),
    Mutant(
        'listening-swap-without-pyav',
        'the swapped mode keeps the true audio, on a machine without PyAV '
        '(tests that do not need it must still run)',
        'mmavs/apis/listening.py',
        "_WRAPPERS = dict(swapped='AudioSwapDataset', "
        "silent='SilentAudioDataset')",
        "_WRAPPERS = dict(silent='SilentAudioDataset')",
        ('tests/test_apis/test_listening.py', ),
        hide=('av', )),
]


def checkout_files(root: str) -> List[str]:
    """Files git tracks or would track (untracked, not ignored)."""
    listed = subprocess.run(
        ['git', 'ls-files', '-z', '--cached', '--others',
         '--exclude-standard'],
        cwd=root, capture_output=True, check=True).stdout.decode()
    return [name for name in listed.split('\0')
            if name and osp.isfile(osp.join(root, name))]


def copy_checkout(root: str, target: str) -> None:
    for name in checkout_files(root):
        destination = osp.join(target, name)
        os.makedirs(osp.dirname(destination), exist_ok=True)
        shutil.copy2(osp.join(root, name), destination)


def apply(mutant: Mutant, root: str) -> None:
    """Replace ``mutant.old`` by ``mutant.new`` in ``root/mutant.path``.

    Raises:
        ValueError: ``old`` does not occur exactly once.
    """
    path = osp.join(root, mutant.path)
    with open(path, encoding='utf-8') as file:
        text = file.read()
    count = text.count(mutant.old)
    if count != 1:
        raise ValueError(f'{mutant.name}: the text to replace occurs '
                         f'{count} times in {mutant.path}, not once')
    with open(path, 'w', encoding='utf-8') as file:
        file.write(text.replace(mutant.old, mutant.new))


def write_hide_plugin(root: str, modules: Sequence[str]) -> None:
    """A pytest plugin that makes ``modules`` fail to import."""
    with open(osp.join(root, HIDE_PLUGIN + '.py'), 'w') as file:
        file.write('import sys\n\n')
        for module in modules:
            file.write(f'sys.modules[{module!r}] = None\n')


def run_tests(root: str, tests: Sequence[str], hide: Sequence[str],
              log: str) -> int:
    """pytest's exit status for ``tests`` in the copy at ``root``."""
    command = [sys.executable, '-m', 'pytest', '-q', '-x', '-p',
               'no:cacheprovider']
    if hide:
        write_hide_plugin(root, hide)
        command += ['-p', HIDE_PLUGIN]
    env = dict(os.environ, PYTHONPATH=root)
    with open(log, 'w') as out:
        return subprocess.call(command + list(tests), cwd=root, env=env,
                               stdout=out, stderr=subprocess.STDOUT)


def check(mutant: Mutant, baseline: bool, keep: bool) -> str:
    """Run one mutant; the verdict line."""
    folder = tempfile.mkdtemp(prefix=f'mmavs-mutant-{mutant.name}-')
    try:
        copy_checkout(REPO_ROOT, folder)
        log = osp.join(tempfile.gettempdir(), f'{osp.basename(folder)}.log')
        if baseline:
            status = run_tests(folder, mutant.tests, mutant.hide, log)
            if status != 0:
                return (f'BROKEN    {mutant.name}: the unmutated tests '
                        f'fail (exit {status}); see {log}')
        apply(mutant, folder)
        start = time.time()
        status = run_tests(folder, mutant.tests, mutant.hide, log)
        took = f'{time.time() - start:.0f} s'
        if status == 1:
            return f'caught    {mutant.name} ({took})'
        if status == 0:
            return (f'MISSED    {mutant.name}: {mutant.why}; the tests '
                    f'passed ({took}, log {log})')
        return (f'BROKEN    {mutant.name}: pytest exit {status} ({took}, '
                f'log {log})')
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('names', nargs='*', help='mutants to run (all)')
    parser.add_argument('--list', action='store_true',
                        help='list the mutants and exit')
    parser.add_argument('--baseline', action='store_true',
                        help='first check that the tests pass unmutated')
    parser.add_argument('--keep', action='store_true',
                        help='keep the mutated copies')
    args = parser.parse_args(argv)
    by_name = {mutant.name: mutant for mutant in MUTANTS}
    unknown = [name for name in args.names if name not in by_name]
    if unknown:
        parser.error(f'unknown mutants {unknown}; --list shows them')
    if args.list:
        for mutant in MUTANTS:
            print(f'{mutant.name}: {mutant.why}\n    {mutant.path} -> '
                  f'{" ".join(mutant.tests)}')
        return 0
    chosen = [by_name[name] for name in args.names] or MUTANTS
    verdicts = []
    for mutant in chosen:
        verdicts.append(check(mutant, args.baseline, args.keep))
        print(verdicts[-1], flush=True)
    missed = [v for v in verdicts if not v.startswith('caught')]
    print(f'{len(verdicts) - len(missed)} of {len(verdicts)} mutants '
          'caught')
    return 1 if missed else 0


if __name__ == '__main__':
    sys.exit(main())
