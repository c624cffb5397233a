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


def package_modules() -> Dict[str, str]:
    """Dotted module name -> file, for every module of mmavs."""
    modules = {}
    for folder, _, files in os.walk(PACKAGE):
        for file in files:
            if not file.endswith('.py'):
                continue
            path = osp.join(folder, file)
            name = osp.relpath(path, REPO_ROOT)[:-3].replace(os.sep, '.')
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
    """Module -> the mmavs modules it imports. A package's
    ``__init__`` importing its own submodules is not an edge: that is how
    packages re-export, and Python resolves it without a cycle."""
    graph = {name: set() for name in modules}
    for name, path in modules.items():
        for module, member in imported_names(name, path):
            for target in (module, f'{module}.{member}'):
                if target in modules and target != name and \
                        not target.startswith(name + '.'):
                    graph[name].add(target)
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
