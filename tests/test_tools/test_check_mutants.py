# Copyright (c) mmavs contributors. All rights reserved.
"""tools/misc/check_mutants.py: every breakage still applies to the code
it names, the tests it names exist, and one runs end to end."""
import importlib.util
import os.path as osp
import re

import pytest

from mmavs.testing._utils import REPO_ROOT

SCRIPT = osp.join(REPO_ROOT, 'tools', 'misc', 'check_mutants.py')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('check_mutants', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_mutant_applies_once_and_names_real_tests(tool):
    assert len({mutant.name for mutant in tool.MUTANTS}) == len(tool.MUTANTS)
    for mutant in tool.MUTANTS:
        with open(osp.join(REPO_ROOT, mutant.path), encoding='utf-8') as f:
            text = f.read()
        assert text.count(mutant.old) == 1, mutant.name
        assert mutant.new != mutant.old, mutant.name
        for test in mutant.tests:
            path, _, name = test.partition('::')
            assert osp.isfile(osp.join(REPO_ROOT, path)), (mutant.name, path)
            if name:
                with open(osp.join(REPO_ROOT, path), encoding='utf-8') as f:
                    assert re.search(rf'^def {name}\(', f.read(), re.M), (
                        mutant.name, test)


def test_apply_refuses_a_text_that_is_not_there_once(tool, tmp_path):
    (tmp_path / 'a.py').write_text('x = 1\nx = 1\n')
    mutant = tool.Mutant('m', 'why', 'a.py', 'x = 1', 'x = 2', ('t', ))
    with pytest.raises(ValueError, match='occurs 2 times in a.py'):
        tool.apply(mutant, str(tmp_path))
    with pytest.raises(ValueError, match='occurs 0 times'):
        tool.apply(mutant._replace(old='y'), str(tmp_path))


def test_a_mutant_is_caught_end_to_end(tool, capsys):
    assert tool.main(['import-cycle-through-reexport']) == 0
    assert capsys.readouterr().out.startswith(
        'caught    import-cycle-through-reexport')
