"""The package's import graph has no cycle, and no import of the package hides in a function.

The graph is read from the source (ast), not from an interpreter: an edge A -> B for every
top-level `import B` / `from B import x` in module A (x itself when it is a submodule of B).
"""

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

PACKAGE = "acai_repro"


def module_names(root: Path, package: str) -> dict[str, Path]:
    """Dotted name -> file of every module of `package` under `root`."""
    names = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _targets(node: ast.AST, modules: dict[str, Path], package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == package]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.split(".")[0] == package:
        submodules = [f"{node.module}.{alias.name}" for alias in node.names]
        return [node.module, *(name for name in submodules if name in modules)]
    return []


def _top_level(tree: ast.Module):
    """Statements run at import: the module's own, and those inside top-level if/try blocks."""
    pending = list(tree.body)
    while pending:
        node = pending.pop(0)
        yield node
        if isinstance(node, (ast.If, ast.Try)):
            pending += [
                *node.body,
                *node.orelse,
                *getattr(node, "finalbody", []),
                *(s for h in getattr(node, "handlers", []) for s in h.body),
            ]


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    modules = module_names(root, package)
    graph = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        graph[name] = {
            t for node in _top_level(tree) for t in _targets(node, modules, package) if t in modules and t != name
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None (depth-first search, three colours)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def function_level_imports(root: Path, package: str) -> list[str]:
    """'file:line import' of every import of `package` that is not run at import time."""
    found = []
    for name, path in module_names(root, package).items():
        tree = ast.parse(path.read_text(), str(path))
        top = set(map(id, _top_level(tree)))
        modules = module_names(root, package)
        for node in ast.walk(tree):
            if id(node) not in top and _targets(node, modules, package):
                found.append(f"{path.relative_to(root)}:{node.lineno} {ast.unparse(node)}")
    return found


def test_the_package_has_no_import_cycle():
    graph = import_graph(ROOT, PACKAGE)
    assert "acai_repro.config" in graph["acai_repro.training.cuda_graphs"]  # the graph is read
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_no_import_of_the_package_hides_in_a_function():
    assert function_level_imports(ROOT, PACKAGE) == []


def test_the_models_never_read_the_configuration():
    graph = import_graph(ROOT, PACKAGE)
    reached, pending = set(), [m for m in graph if m.startswith("acai_repro.models")]
    while pending:
        module = pending.pop()
        if module not in reached:
            reached.add(module)
            pending += graph[module]
    assert "acai_repro.config" not in reached
    assert "acai_repro.models" in graph["acai_repro.config"]  # config reads the registry


def _package(tmp_path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / "pkg" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    "files",
    [
        {"__init__.py": "", "a.py": "from pkg.b import f\n", "b.py": "import pkg.c\n", "c.py": "from pkg import a\n"},
        {
            "__init__.py": "",
            "a.py": "try:\n    from pkg.b import f\nexcept ImportError:\n    pass\n",
            "b.py": "import pkg.a\n",
        },
    ],
)
def test_a_cycle_is_found(tmp_path, files):
    cycle = find_cycle(import_graph(_package(tmp_path, files), "pkg"))
    assert cycle and cycle[0] == cycle[-1] and len(cycle) >= 3


def test_a_function_level_import_is_found(tmp_path):
    root = _package(tmp_path, {"__init__.py": "", "a.py": "import os\n\ndef f():\n    from pkg import b\n", "b.py": ""})
    assert function_level_imports(root, "pkg") == ["pkg/a.py:4 from pkg import b"]
