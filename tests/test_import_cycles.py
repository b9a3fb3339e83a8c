"""No import cycles between the modules of ``portkern/`` and ``backends/`` (installed as ``portkern.backends``).

Imports are read with ``ast`` from every module, including the ones inside functions (a lazy import
hides a cycle from the interpreter, not from the design); only ``if TYPE_CHECKING:`` blocks are left
out, because they never run. An edge goes from a module to the module it names: ``from a.b import c``
is an edge to ``a.b.c`` when that is a module, else to ``a.b``.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_files(root: Path) -> dict[str, Path]:
    """Dotted module name -> file, for portkern/ (without its backends link) and backends/."""
    out: dict[str, Path] = {}
    for base, prefix in ((root / "portkern", "portkern"), (root / "backends", "portkern.backends")):
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base)
            if prefix == "portkern" and rel.parts[0] == "backends":
                continue   # the development link to ../backends, read from there
            parts = [prefix, *rel.with_suffix("").parts]
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """The known modules that ``name`` (in ``path``) imports anywhere in its body."""
    is_package = path.name == "__init__.py"
    package = name if is_package else name.rpartition(".")[0]
    named: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                named.add(full if full in known else module)
    out = set()
    for module in named:
        while module and module not in known:
            module = module.rpartition(".")[0]
        if module and module != name:
            out.add(module)
    return out


def _runtime_nodes(tree: ast.AST):
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            test = child.test if isinstance(child, ast.If) else None
            if test is not None and (getattr(test, "id", "") == "TYPE_CHECKING"
                                     or getattr(test, "attr", "") == "TYPE_CHECKING"):
                todo.extend(child.orelse)
                continue
            todo.append(child)


def import_graph(root: Path) -> dict[str, set[str]]:
    files = module_files(root)
    known = set(files)
    return {name: imported_modules(name, path, known) for name, path in files.items()}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a closed path) per strongly connected component of more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0

    def connect(v: str) -> None:   # Tarjan's algorithm; the graph is a few hundred nodes deep at most
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_closed_path(graph, set(comp), comp[0]) for comp in components]


def _closed_path(graph: dict[str, set[str]], comp: set[str], start: str) -> list[str]:
    """A shortest path from ``start`` back to itself inside one component (breadth first)."""
    parent: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & comp):
                if w == start:
                    path = [v]
                    while path[-1] != start:
                        path.append(parent[path[-1]])
                    return [*reversed(path), start]
                if w not in parent:
                    parent[w] = v
                    nxt.append(w)
        frontier = nxt
    return [start]


def test_the_analysis_finds_a_cycle_and_a_lazy_one(tmp_path):
    pkg = tmp_path / "portkern"
    (pkg / "sub").mkdir(parents=True)
    (tmp_path / "backends" / "toy").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from portkern.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from portkern import a\n    return a\n")
    (pkg / "c.py").write_text("from . import a\nfrom typing import TYPE_CHECKING\n"
                              "if TYPE_CHECKING:\n    from portkern.backends import toy\n")
    (tmp_path / "backends" / "__init__.py").write_text("")
    (tmp_path / "backends" / "toy" / "__init__.py").write_text("from portkern.c import *\n")
    graph = import_graph(tmp_path)
    assert graph["portkern.c"] == {"portkern.a"}
    assert graph["portkern.backends.toy"] == {"portkern.c"}
    assert find_cycles(graph) == [["portkern.a", "portkern.sub.b", "portkern.a"]]


def test_no_import_cycles_in_portkern_and_backends():
    graph = import_graph(ROOT)
    assert len(graph) > 100, "the module scan found too little: is the layout different?"
    cycles = find_cycles(graph)
    assert not cycles, "import cycles (imports inside functions count):\n" + "\n".join(
        " -> ".join(c) for c in cycles)
