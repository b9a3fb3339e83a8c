"""Per-kernel closure (helpers, types, macros it needs) and the self-contained unit built from it."""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field

from portkern.ingest import macros as mac
from portkern.ingest.model import KernelUnit, UnitPiece
from portkern.ingest.scan import FileIndex, Item

RUNTIME_HEADER = {"hip": "#include <hip/hip_runtime.h>", "cuda": "#include <cuda_runtime.h>"}
_HELPER_KINDS = ("function", "prototype", "type", "variable", "alias")


def _key(item: Item) -> tuple[str, int]:
    return (item.file, item.order)


@dataclass
class TreeIndex:
    """Every file's declarations, indexed by the names they define."""

    files: dict[str, FileIndex]
    table: mac.MacroTableIndex
    file_rank: dict[str, int]
    unresolved_includes: dict[str, list]          # file -> includes that do not resolve inside the tree
    defs: dict[str, list[Item]] = field(default_factory=lambda: defaultdict(list))
    members: dict[str, list[Item]] = field(default_factory=lambda: defaultdict(list))
    kernels: dict[str, list[Item]] = field(default_factory=lambda: defaultdict(list))
    instantiations: dict[str, list[Item]] = field(default_factory=lambda: defaultdict(list))
    usings: dict[str, list[Item]] = field(default_factory=lambda: defaultdict(list))
    macro_groups: dict[tuple[str, int, int], list[Item]] = field(default_factory=lambda: defaultdict(list))
    closures: dict[str, Closure] = field(default_factory=dict)
    # How a unit gets declarations from files other than its kernels' own: "extract" copies them;
    # "include" writes an #include of the library's header instead (a tree whose headers build as
    # they are, with the library's include folders and definitions), for the fewest headers that
    # bring in everything the kernels use.
    header_mode: str = "extract"
    edges: dict[str, list[str]] = field(default_factory=dict)     # file -> files it includes (in the tree)
    include_dirs: list[str] = field(default_factory=list)         # relative to the root, for include paths
    defines: dict[str, str | None] = field(default_factory=dict)  # the build's configuration macros
    # Types the library's manifest says its kernels never use (float8 in a BLAS-1 library): they
    # stay out of units, with the overloads and operators written for them.
    exclude: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # types the tree defines: free operators travel with these, not with std::ostream and the like
        tree_types = {n for fi in self.files.values() for it in fi.items if it.kind in ("type", "alias")
                      for n in it.names}
        for fi in self.files.values():
            for it in fi.items:
                if it.macro:
                    self.macro_groups[(it.file, it.start, it.end)].append(it)
                if it.kind == "kernel" or (it.kind == "prototype" and it.is_global):
                    for n in it.names:
                        self.kernels[n].append(it)
                elif it.kind == "instantiation":
                    for n in it.names:
                        self.instantiations[n].append(it)
                elif it.kind == "using":
                    self.usings[it.file].append(it)
                elif it.kind in _HELPER_KINDS and not it.launch_sites:
                    if it.scope:
                        self.members[it.scope].append(it)
                    elif it.names and it.names[0].startswith("operator"):
                        # free operators travel with the types they operate on
                        for r in it.refs & tree_types:
                            self.members[r].append(it)
                    for n in it.names:
                        if not it.scope:
                            self.defs[n].append(it)

    def rank(self, item: Item) -> tuple[int, int]:
        return (self.file_rank.get(item.file, 1 << 30), item.order)


@dataclass
class Closure:
    items: list[Item]                # selected declarations, kernels and instantiations included
    macros: set[str]


def closure(index: TreeIndex, kernel_name: str) -> Closure:
    """Everything ``kernel_name`` needs (memoised per index)."""
    if kernel_name not in index.closures:
        index.closures[kernel_name] = _closure(index, [kernel_name])
    return index.closures[kernel_name]


def group_closure(index: TreeIndex, kernel_names: list[str], extra_names: list[str] = ()) -> Closure:
    """Everything a group of kernels needs, plus the library declarations ``extra_names`` name.

    ``extra_names`` are names the host side hands the kernels (types given as template arguments at
    a launch, such as a finalize functor); names the tree does not define are ignored.
    """
    return _closure(index, list(kernel_names), list(extra_names))


def _closure(index: TreeIndex, kernel_names: list[str], extra_names: list[str] = ()) -> Closure:
    roots = [k for name in kernel_names for k in index.kernels.get(name, []) if k.kind == "kernel"]
    roots += [i for name in kernel_names for i in index.instantiations.get(name, [])]
    selected: dict[tuple[str, int], Item] = {}
    macros: set[str] = set()
    queue: list[str] = list(extra_names)
    seen: set[str] = set()

    def take(it: Item) -> None:
        k = _key(it)
        if k in selected:
            return
        if index.exclude and (index.exclude & set(it.names) or (it.kind in ("function", "prototype")
                                                                and index.exclude & it.refs)):
            return
        selected[k] = it
        queue.extend(it.refs)
        for n in it.names:
            for m in index.members.get(n, []):
                take(m)

    root_files = {r.file for r in roots}
    for r in roots:
        take(r)
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in index.table.defs:
            macros.add(name)
            for d in index.table.defs[name]:
                queue.extend(d.identifiers())
        for it in _visible(index.defs.get(name, ()), root_files):
            take(it)
        for it in index.members.get(name, ()):
            take(it)
    files = {it.file for it in selected.values()}
    for f in files:
        for u in index.usings.get(f, ()):
            take(u)
    return Closure(items=list(selected.values()), macros=macros)


_SOURCE_SUFFIXES = (".cpp", ".cc", ".cxx", ".c", ".cu", ".hip")


def _visible(defs, root_files: set[str]) -> list[Item]:
    """The definitions of one name the kernels' translation units can see: a definition in another
    source file (not a header) belongs to that file's translation unit, where the same helper may be
    defined again (``static`` helpers, templates each file defines for itself); such definitions are
    dropped when a header or the kernels' own files define the name."""
    defs = list(defs)
    seen = [d for d in defs if d.file in root_files or not d.file.endswith(_SOURCE_SUFFIXES)]
    return seen or defs


def _ordered(index: TreeIndex, items: list[Item]) -> list[Item]:
    """Dependencies first; ties (and cycles) broken by the order in the tree."""
    by_name: dict[str, list[Item]] = defaultdict(list)
    for it in items:
        for n in it.names:
            by_name[n].append(it)
        if it.scope:
            by_name[it.scope + "::"].append(it)
    deps: dict[tuple[str, int], set[tuple[str, int]]] = {}
    users: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)
    for it in items:
        k = _key(it)
        # a declaration naming itself (a prototype, a recursive call) is not a dependency on its twins
        d = {_key(o) for r in it.refs if r not in it.names for o in by_name.get(r, ()) if _key(o) != k}
        if it.scope:   # an out-of-class definition follows its class
            d |= {_key(o) for o in by_name.get(it.scope, ()) if _key(o) != k}
        if it.kind == "function":   # a definition follows its declarations (which hold the defaults)
            d |= {_key(o) for n in it.names for o in by_name.get(n, ()) if o.kind == "prototype" and _key(o) != k}
        deps[k] = d
        for o in d:
            users[o].append(k)
    lookup = {_key(it): it for it in items}
    ready = [(index.rank(it), _key(it)) for it in items if not deps[_key(it)]]
    heapq.heapify(ready)
    done: set[tuple[str, int]] = set()
    out: list[Item] = []
    while len(out) < len(items):
        if not ready:   # a cycle: release the earliest remaining item
            rest = min((index.rank(it), _key(it)) for it in items if _key(it) not in done)
            ready.append(rest)
        _, k = heapq.heappop(ready)
        if k in done:
            continue
        done.add(k)
        out.append(lookup[k])
        for u in users[k]:
            if u in done:
                continue
            deps[u].discard(k)
            if not deps[u]:
                heapq.heappush(ready, (index.rank(lookup[u]), u))
    return out


def _wrap(text: str, condition: str, namespaces: list[str]) -> str:
    body = text
    for opener in reversed(namespaces):
        body = f"{opener}\n{body}\n}}"
    if condition:
        body = f"#if {condition}\n{body}\n#endif"
    return body


def _instantiation_texts(index: TreeIndex, kernel_names: list[str],
                         items: list[Item]) -> dict[tuple[str, int], str]:
    """Text per instantiation: as written (macro call) when that call instantiates only these kernels."""
    wanted = set(kernel_names)
    groups = index.macro_groups
    out: dict[tuple[str, int], str] = {}
    emitted: set[tuple[str, int, int]] = set()
    for it in items:
        group = groups.get((it.file, it.start, it.end), [it])
        pure = all(g.kind == "instantiation" and set(g.names) <= wanted for g in group)
        if it.macro and pure:
            span = (it.file, it.start, it.end)
            out[_key(it)] = "" if span in emitted else it.text.strip()
            emitted.add(span)
        else:
            out[_key(it)] = (it.expanded_text or it.text).strip()
            if not out[_key(it)].endswith(";"):
                out[_key(it)] += ";"
    return out


def build_unit(index: TreeIndex, kernel_name: str, dialect: str) -> KernelUnit:
    return _assemble(index, [kernel_name], closure(index, kernel_name), dialect)


def build_group_unit(index: TreeIndex, kernel_names: list[str], dialect: str,
                     extra_names: list[str] = ()) -> KernelUnit:
    """One unit for kernels launched together (a reduction and its finalize kernel): the union of
    their closures, each declaration once, in dependency order; ``extra_names`` as in ``group_closure``."""
    names = list(dict.fromkeys(kernel_names))
    unit = _assemble(index, names, group_closure(index, names, list(extra_names)), dialect)
    found = {p.name for p in unit.pieces}
    extras = [n for n in dict.fromkeys(extra_names) if n in found]
    if extras:
        unit.notes.append(f"also holds {', '.join(extras)} (named by the launches' template arguments)")
    return unit


def _reachable(index: TreeIndex, start: str) -> set[str]:
    seen: set[str] = set()
    todo = list(index.edges.get(start, ()))
    while todo:
        f = todo.pop()
        if f not in seen:
            seen.add(f)
            todo.extend(index.edges.get(f, ()))
    return seen


def _include_path(index: TreeIndex, rel: str) -> str:
    """How a unit names a header of the tree: relative to the include folder nearest to it."""
    best = rel
    for d in index.include_dirs:
        d = d.rstrip("/")
        if d in ("", ".") or rel.startswith(d + "/"):
            cand = rel if d in ("", ".") else rel[len(d) + 1:]
            if len(cand) < len(best):
                best = cand
    return best


def _header_includes(index: TreeIndex, cl: Closure, own_files: set[str]) -> tuple[Closure, list[str]]:
    """Split a closure into the items of the kernels' own files and #includes of the fewest other
    headers that provide the rest (a header another chosen header includes is left out)."""
    needed = {it.file for it in cl.items if it.file not in own_files}
    # what the kernels' own files include is theirs to need (macros tested in #if, for one)
    needed |= {f for own in own_files for f in index.edges.get(own, ()) if f not in own_files}
    included = {f for targets in index.edges.values() for f in targets}
    # A header no file of the tree includes is not part of the library's build: the names that
    # led to it come from code the build never compiles together with it.
    needed = {f for f in needed if f in included or f.endswith((".c", ".cc", ".cpp", ".cu", ".hip"))}
    covered: set[str] = set()
    for f in needed | own_files:
        covered |= _reachable(index, f)
    for n in sorted(cl.macros):
        files = [d.file for d in index.table.defs.get(n, ())]
        if any(f in needed or f in covered or f in own_files for f in files):
            continue
        # a macro defined in several headers needs one of them: one the library includes somewhere
        best = min(files, key=lambda f: (f not in included, index.file_rank.get(f, 1 << 30), f))
        needed.add(best)
        covered |= _reachable(index, best)
    top = sorted((f for f in needed if f not in covered), key=lambda f: (index.file_rank.get(f, 1 << 30), f))
    own_items = [it for it in cl.items if it.file in own_files]
    own_macros = {n for n in cl.macros if any(d.file in own_files for d in index.table.defs.get(n, ()))}
    return Closure(items=own_items, macros=own_macros), [f'#include "{_include_path(index, f)}"' for f in top]


def _define_line(name: str, value: str | None) -> str:
    if value is None:
        return f"#undef {name}"
    return f"#ifndef {name}\n#define {name}{' ' + value if value else ''}\n#endif"


def _assemble(index: TreeIndex, kernel_names: list[str], cl: Closure, dialect: str) -> KernelUnit:
    header_lines: list[str] = []
    if index.header_mode == "include":
        own = {k.file for name in kernel_names for k in index.kernels.get(name, ()) if k.kind == "kernel"}
        own |= {i.file for name in kernel_names for i in index.instantiations.get(name, ())}
        cl, header_lines = _header_includes(index, cl, own)
    # The build's definitions travel with the unit, so that it compiles as the library's build
    # compiles it whatever runs the compiler (flags given as -D agree with them).
    header_lines = [_define_line(k, v) for k, v in index.defines.items()] + header_lines
    ordered = _ordered(index, cl.items)
    inst = _instantiation_texts(index, kernel_names, [it for it in ordered if it.kind == "instantiation"])
    files = {it.file for it in ordered}
    macro_defs = sorted((d for n in cl.macros for d in index.table.defs.get(n, ())),
                        key=lambda d: (index.file_rank.get(d.file, 1 << 30), d.line))
    files |= {d.file for d in macro_defs}

    includes: list[str] = [RUNTIME_HEADER.get(dialect, RUNTIME_HEADER["hip"]), *header_lines]
    for f in sorted(files, key=lambda f: index.file_rank.get(f, 1 << 30)):
        for inc in index.unresolved_includes.get(f, ()):
            line = _wrap(inc.text, inc.condition, [])
            if line not in includes:
                includes.append(line)

    pieces: list[UnitPiece] = []
    chunks: list[str] = []
    firsts = [next((it for it in ordered if it.kind == "kernel" and name in it.names), None) for name in kernel_names]
    first = firsts[0]
    described = ", ".join(f"'{name}' ({f'{k.file}:{k.line}' if k else '?'})" for name, k in zip(kernel_names, firsts))
    chunks.append(f"// Kernel unit for {described}, extracted by portkern ingest.")
    chunks.append("\n".join(includes))
    if macro_defs:
        chunks.append("\n".join(_wrap(d.text, d.condition, []) for d in macro_defs))
        pieces.extend(UnitPiece("macro", d.name, d.file, d.line) for d in macro_defs)

    run: list[str] = []
    run_scope: tuple[str, tuple[str, ...]] | None = None
    # A definition written the same in two headers (one include guard around both in the build, so a
    # translation unit sees it once) is emitted once.
    emitted: set[tuple] = set()
    for it in ordered:
        text = inst[_key(it)] if it.kind == "instantiation" else it.text.strip()
        if not text:
            if it.kind == "instantiation":   # written by a macro call already emitted for a sibling
                pieces.append(UnitPiece(it.kind, it.names[0] if it.names else "", it.file, it.line))
            continue
        scope = (it.condition, tuple(it.namespaces))
        if it.kind != "instantiation":
            if (scope, text) in emitted:
                continue
            emitted.add((scope, text))
        if scope != run_scope and run:
            chunks.append(_wrap("\n\n".join(run), run_scope[0], list(run_scope[1])))
            run = []
        run_scope = scope
        run.append(text)
        pieces.append(UnitPiece(it.kind, it.names[0] if it.names else "", it.file, it.line))
    if run and run_scope is not None:
        chunks.append(_wrap("\n\n".join(run), run_scope[0], list(run_scope[1])))
    source = "\n\n".join(chunks) + "\n"
    source = source.encode("latin-1", errors="replace").decode("utf-8", errors="replace")
    notes = []
    if not any(it.kind == "instantiation" for it in ordered):
        notes.append("no explicit instantiation found: the unit defines the template without instantiating it")
    return KernelUnit(kernel=kernel_names[0], file=first.file if first else "", dialect=dialect, source=source,
                      includes=includes, pieces=pieces, notes=notes, kernels=list(kernel_names))
