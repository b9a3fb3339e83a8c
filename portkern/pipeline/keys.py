"""What each stage's cache key covers: exactly what the stage reads, with paths relative to the library.

The stage key (``pipeline.cache.stage_key``) hashes the inputs a stage is given. Handing it the whole
``LibrarySpec`` would fold in the library's absolute root (a moved checkout would recompute
everything) and every other kernel's spec (editing one kernel would recompute all), while leaving out
what the stage reads from disk (the reference function, the headers a source includes). The
functions here build the key inputs of each stage instead.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from portkern.expr import parse_python
from portkern.library import KernelSpec, LibrarySpec


def library_view(library: LibrarySpec, *fields: str) -> dict[str, Any]:
    """The named manifest fields of a library (never its root, never its other kernels); include folders
    relative to the root, since a manifest may name folders that resolve to absolute paths."""
    view = {f: getattr(library, f) for f in fields}
    if "include_dirs" in view:
        view["include_dirs"] = relative_dirs([os.path.join(library.root, d) for d in view["include_dirs"]],
                                             library.root)
    return view


def relative_dirs(dirs: list[str], root: str) -> list[str]:
    """Folders as paths relative to the library root (include folders outside it keep their '../')."""
    base = os.path.realpath(root)
    return [os.path.relpath(os.path.realpath(d), base) for d in dirs]


def file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


# --------------------------------------------------------------------------- headers a source includes

_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*[<"]([^">]+)[">]', re.M)


def header_digests(source: str, search_dirs: list[str], root: str) -> dict[str, str]:
    """Content hashes of the library headers ``source`` includes, transitively, by path relative to
    ``root``. Includes not found in ``search_dirs`` (system and runtime headers) belong to the
    toolchain's identity, not to the library."""
    out: dict[str, str] = {}
    base = os.path.realpath(root)
    queue = [(source, "")]
    seen: set[str] = set()
    while queue:
        text, here = queue.pop()
        for name in _INCLUDE.findall(text):
            for folder in ([here] if here else []) + list(search_dirs):
                path = os.path.realpath(os.path.join(folder, name))
                if not os.path.isfile(path):
                    continue
                if path not in seen:
                    seen.add(path)
                    try:
                        data = Path(path).read_bytes()
                    except OSError:
                        break
                    out[os.path.relpath(path, base)] = hashlib.sha256(data).hexdigest()
                    queue.append((data.decode("utf-8", errors="replace"), os.path.dirname(path)))
                break
    return dict(sorted(out.items()))


# --------------------------------------------------------------------------- the reference a kernel uses

_DYNAMIC = {"globals", "locals", "vars", "eval", "exec", "getattr", "__import__", "importlib"}


def reference_digest(library: LibrarySpec, kernel: KernelSpec) -> str:
    """Hash of what ``kernel.reference`` ("reference.py:function") runs: the function and the module-level
    definitions it uses (transitively), the module's imports and its top-level statements; other kernels'
    functions in the same file are left out, so editing one reference recomputes that kernel only.
    A module that looks names up dynamically is hashed whole."""
    mod_file, _, func = kernel.reference.partition(":")
    path = Path(library.root) / mod_file
    try:
        text = path.read_text(encoding="utf-8")
        tree = parse_python(text)
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return f"{mod_file}:{func}:" + file_digest(path)
    whole = f"{mod_file}:{func}:file:" + hashlib.sha256(text.encode()).hexdigest()
    defined: dict[str, list[ast.stmt]] = {}
    always: list[ast.stmt] = []
    for stmt in tree.body:
        names = _defined_names(stmt)
        if names is None:
            always.append(stmt)          # imports and statements run for their effect
        for name in names or ():
            defined.setdefault(name, []).append(stmt)
    if func not in defined:
        return whole
    used: list[ast.stmt] = []
    todo, done = [func], set()
    while todo:
        name = todo.pop()
        if name in done or name not in defined:
            continue
        done.add(name)
        for stmt in defined[name]:
            if stmt not in used:
                used.append(stmt)
            loads = {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)}
            if loads & _DYNAMIC:
                return whole
            todo.extend(loads - done)
    for stmt in always:
        if {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name)} & _DYNAMIC:
            return whole
    picked = sorted(set(map(id, used + always)))
    body = [s for s in tree.body if id(s) in picked]
    return f"{mod_file}:{func}:" + hashlib.sha256(ast.dump(ast.Module(body=body, type_ignores=[])).encode()).hexdigest()


def _defined_names(stmt: ast.stmt) -> list[str] | None:
    """Names a top-level statement defines, or None for a statement kept whatever it defines."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        return names or None
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        return []                        # a docstring
    return None


# --------------------------------------------------------------------------- compile results as inputs


def compiled_view(compiled: dict[str, Any]) -> dict[str, Any]:
    """What validation and timing read of a compile result: the binary, its entries and resources, the
    options that shaped it; not its log, notes or the absolute include folders it was built with."""
    if not compiled:
        return {}
    view = {k: v for k, v in compiled.items() if k not in ("log", "notes", "compiler")}
    if isinstance(view.get("options"), dict):
        view["options"] = {k: v for k, v in view["options"].items() if k != "include_dirs"}
    return view
