# Copyright (c) mmavs contributors. All rights reserved.
"""The package keeps its shape: no import cycles (lazy imports included),
no module importing another's private names, no module past 600 lines."""
import ast
import os
import os.path as osp
from typing import Dict, List, Set

from mmavs.testing._utils import REPO_ROOT

PACKAGE = osp.join(REPO_ROOT, 'mmavs')
MAX_LINES = 600


def package_modules(package: str = PACKAGE,
                    root: str = REPO_ROOT) -> Dict[str, str]:
    """Dotted module name -> file, for every module of a package (mmavs
    unless told otherwise), named relative to ``root``."""
    modules = {}
    for folder, _, files in os.walk(package):
        for file in files:
            if not file.endswith('.py'):
                continue
            path = osp.join(folder, file)
            name = osp.relpath(path, root)[:-3].replace(os.sep, '.')
            if name.endswith('.__init__'):
                name = name[:-len('.__init__')]
            modules[name] = path
    return modules


def imported_names(name: str, path: str) -> List[tuple]:
    """(module, imported name or None) of every import, also those inside
    functions: a lazy import that only hides a cycle is still a cycle."""
    tree = ast.parse(open(path, encoding='utf-8').read())
    package = name if path.endswith('__init__.py') else name.rsplit('.', 1)[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split('.')
                parts = parts[:len(parts) - node.level + 1]
                module = '.'.join(parts + ([node.module]
                                           if node.module else []))
            else:
                module = node.module
            found += [(module, alias.name) for alias in node.names]
    return found


def import_graph(modules: Dict[str, str]) -> Dict[str, Set[str]]:
    """Module -> the modules of ``modules`` it imports.

    ``from P import name`` needs what P's ``__init__`` defines, so it is an
    edge to P, also when P is the importer's own package (a package that
    re-exports the importer from its ``__init__`` then closes a cycle,
    e.g. ``p/__init__`` -> ``p.a`` -> ``p``). Only ``from P import sub``
    of a submodule ``P.sub`` from inside P is an edge to ``P.sub`` alone:
    Python loads the submodule without needing P's names. Importing
    ``P.Q.R`` from outside P runs P's and P.Q's ``__init__``: edges too.
    """
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for module, member in imported_names(name, path):
            submodule = f'{module}.{member}'
            if member and submodule in modules:
                targets = {submodule}
                if not name.startswith(module + '.'):
                    targets.add(module)  # P's __init__ runs first
            else:
                targets = {module}
            # Importing P.Q.R runs the __init__ of P and P.Q first, unless
            # the importer is inside them (they are then already loading).
            for target in list(targets):
                parts = target.split('.')
                targets |= {
                    '.'.join(parts[:i])
                    for i in range(1, len(parts))
                    if not name.startswith('.'.join(parts[:i]) + '.')
                }
            graph[name] |= {
                target
                for target in targets if target in modules and target != name
            }
    return graph


def find_cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """Strongly connected components with more than one module."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return cycles


def test_cycle_finder_finds_a_cycle():
    graph = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}
    assert find_cycles(graph) == [['a', 'b', 'c']]
    assert find_cycles({'a': {'b'}, 'b': set()}) == []


def write_package(root, files):
    for relative, text in files.items():
        path = osp.join(root, relative)
        os.makedirs(osp.dirname(path), exist_ok=True)
        with open(path, 'w', encoding='utf-8') as file:
            file.write(text)
    return package_modules(osp.join(root, 'p'), root)


def test_a_cycle_through_a_re_export_is_found(tmp_path):
    """p/__init__ re-exports p.a; p.a takes a name from p's __init__."""
    modules = write_package(
        str(tmp_path), {
            'p/__init__.py': 'from .a import f\nfrom .b import g\n',
            'p/a.py': 'def f():\n    from p import g\n    return g\n',
            'p/b.py': 'def g():\n    return 1\n',
        })
    assert find_cycles(import_graph(modules)) == [['p', 'p.a']]


def test_re_exports_and_sibling_imports_are_no_cycle(tmp_path):
    modules = write_package(
        str(tmp_path), {
            'p/__init__.py': 'from .a import f\nfrom . import b\n',
            'p/a.py': 'from . import b\nfrom .b import g\nimport p.b\n',
            'p/b.py': 'def g():\n    return 1\n',
            'p/sub/__init__.py': 'from .c import h\n',
            'p/sub/c.py': 'from ..b import g\nfrom p.a import f\n',
            'q.py': 'from p.sub.c import h\n',
        })
    graph = import_graph(modules)
    assert graph['p'] == {'p.a', 'p.b'}
    assert graph['p.a'] == {'p.b'}
    assert graph['p.sub.c'] == {'p.b', 'p.a'}
    assert find_cycles(graph) == []
    outside = import_graph(package_modules(str(tmp_path), str(tmp_path)))
    assert outside['q'] == {'p', 'p.sub', 'p.sub.c'}


def test_no_import_cycles():
    assert find_cycles(import_graph(package_modules())) == []


def test_no_module_imports_private_names_of_another():
    modules = package_modules()
    offenders = []
    for name, path in modules.items():
        for module, member in imported_names(name, path):
            if (module or '').startswith('mmavs') and member and \
                    member.startswith('_') and not member.startswith('__'):
                offenders.append(f'{name} imports {module}.{member}')
    assert offenders == []


def test_no_module_is_too_long():
    too_long = {}
    for name, path in package_modules().items():
        with open(path, encoding='utf-8') as file:
            lines = sum(1 for _ in file)
        if lines > MAX_LINES:
            too_long[name] = lines
    assert too_long == {}
