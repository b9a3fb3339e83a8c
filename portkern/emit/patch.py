"""The patch of a run: edits to the library's own files, as ``git format-patch`` output.

- Same dialect (tuning): a tuned parameter is changed where the library defines it (the named
  constant its launcher passes, followed through local aliases such as ``constexpr int NB =
  BLAS_AXPY_NB;``), and in the ``defaults`` of every manifest entry launched through that constant;
  a kernel whose code the selected candidate rewrote is replaced in its own file. Everything else
  keeps its formatting.
- Other dialect (port): the whole translated tree under ``<dialect>/`` (sources with the dialect's
  extension, headers, a ``library.yaml`` with the selected parameters as defaults, a Makefile), with
  every verified candidate in place of the rules' translation of its kernel: ready to build, and a
  library portkern itself can load and validate.

The patch is made from the run folder's own copy of the library inputs (``inputs/library``), with
paths relative to the library root, so ``git am`` applies it in a pristine copy of that folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from pathlib import Path

from portkern import __version__
from portkern.errors import PortkernError
from portkern.library import KernelSpec, LibrarySpec
from portkern.pipeline.runread import evaluations, load_run_library, read_rows

EXT = {"hip": ".hip", "cuda": ".cu"}
CODE_EXTS = (".cu", ".cuh", ".hip", ".cpp", ".cc", ".cxx", ".c", ".h", ".hpp", ".hh", ".hxx", ".inl")
SOURCE_EXTS = (".cu", ".hip", ".cpp", ".cc", ".cxx")
FALLBACK_IDENTITY = "portkern <portkern@localhost>"


class PatchError(PortkernError):
    cause = "patch"


@dataclass
class KernelChange:
    """What the patch does for one kernel, and the evidence for it."""
    kernel: str
    status: str                       # the run's verdict: improved, ported, ...
    base_ms: float | None
    selected_ms: float | None
    method: str                       # "measured" | "estimate" (of the selected candidate's timing)
    device: str                       # where it was validated
    cases: int
    params_before: dict
    params_after: dict
    where: list[str] = field(default_factory=list)   # "BLAS_AXPY_NB in include/blas_block_sizes.hpp"

    def evidence(self) -> str:
        speed = (f"{self.base_ms:.4g} ms -> {self.selected_ms:.4g} ms "
                 f"({self.base_ms / self.selected_ms:.2f}x, {self.method})"
                 if self.base_ms and self.selected_ms else f"time: {self.method or 'not timed'}")
        changed = {k: v for k, v in self.params_after.items() if self.params_before.get(k) != v}
        params = ", ".join(f"{k} {self.params_before.get(k, '?')} -> {v}" for k, v in sorted(changed.items()))
        lines = [f"{self.kernel}: {speed}",
                 f"  validated on {self.device} over {self.cases} case(s)"
                 + (f"; {params}" if params else f"; parameters {json.dumps(self.params_after, sort_keys=True)}")]
        if self.where:
            lines.append(f"  changed: {'; '.join(self.where)}")
        return "\n".join(lines)


@dataclass
class PatchPlan:
    run_id: str
    library: LibrarySpec
    target: str
    mode: str                                                   # "tune" | "port"
    edits: dict[str, list[str]] = field(default_factory=dict)   # rel path -> new lines (modified files)
    new_files: dict[str, str] = field(default_factory=dict)     # rel path -> text (port)
    notes: list[str] = field(default_factory=list)
    changes: list[KernelChange] = field(default_factory=list)
    target_dialect: str = ""
    validated_on: str = ""
    timing: str = ""
    # kernel symbol -> (the entry whose candidate defines it in the patch, that definition without spaces):
    # entries that launch one kernel (axpy and axpy_batched) cannot each bring their own version of it.
    kernel_claims: dict[str, tuple[str, str]] = field(default_factory=dict)
    # What the host code's launches were changed by (("grid", symbol) or ("count", symbol, argument) ->
    # factor): an entry sharing a kernel with one already patched must not divide its launches again.
    launch_changes: dict[tuple, int] = field(default_factory=dict)
    # kernel -> (candidate id, parameters) of every candidate the run validated with the library's own
    # source (the original and tunable sweeps): what a shared constant's new value was checked at.
    validated_points: dict[str, list[tuple[str, dict]]] = field(default_factory=dict)

    def validated_at(self, kernel: str, params: dict) -> str:
        """The id of a candidate of ``kernel`` this run validated with the library's source at ``params``, or ''."""
        return next((cid for cid, p in self.validated_points.get(kernel, []) if p == params), "")

    def claim_kernel(self, symbol: str, entry: str, definition: str, *, record: bool = True) -> bool:
        """Whether ``entry`` may put ``definition`` in place of ``symbol`` (no other entry put another);
        ``record``: the patch now holds it (a check alone otherwise)."""
        held = self.kernel_claims.get(symbol)
        if held is not None and held[1] != _squash(definition):
            self.notes.append(f"{entry}: {symbol} is also the kernel of {held[0]}, whose verified version the patch "
                              f"holds; {entry}'s candidate is left out")
            return False
        if record:
            self.kernel_claims[symbol] = (entry, _squash(definition))
        return True

    @property
    def evidence(self) -> list[str]:
        return [c.evidence() for c in self.changes]


# --------------------------------------------------------------------------- locating code


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _kernel_lines(source: str, symbol: str, dialect: str, macros) -> tuple[int, int] | None:
    """1-based line span of kernel ``symbol`` in a source text, found with the ingest parser."""
    from portkern.ingest import ingest_tree

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / ("unit" + EXT[dialect])).write_text(source)
        catalog = ingest_tree(tmp, profile="rocblas" if dialect == "hip" else "cuda", macros=macros)
    spans = [(k.line, k.end_line) for k in catalog.kernels if k.name == symbol]
    if not spans:
        return None
    return min(s for s, _ in spans), max(e for _, e in spans)


_CONSTANT = re.compile(r"^(\s*(?:static\s+)?(?:inline\s+)?(?:constexpr|const)\s+(?:[\w:]+\s+)+?(\w+)\s*=\s*)(\d+)(\s*;.*)$|"
                       r"^(\s*#\s*define\s+(\w+)\s+)(\d+)(\s*(?://.*)?)$")


def _constant_sites(library: LibrarySpec) -> dict[str, tuple[str, int]]:
    """Named integer constants in the library's files: name -> (file, line index)."""
    out: dict[str, tuple[str, int]] = {}
    root = Path(library.root)
    for path in sorted(root.rglob("*")):
        if path.suffix not in CODE_EXTS or not path.is_file():
            continue
        for i, line in enumerate(path.read_text(errors="replace").splitlines()):
            m = _CONSTANT.match(line)
            if m:
                out.setdefault(m.group(2) or m.group(6), (str(path.relative_to(root)), i))
    return out


def _resolve_constant(name: str, file_lines: list[str], before: int, constants: dict) -> str | None:
    """Follow local aliases (``constexpr int NB = BLAS_AXPY_NB;`` above the launch, also in a list of
    declarators) to a named constant. ``before``: the 1-based line of the launch."""
    for _ in range(8):
        if name in constants:
            return name
        alias = re.compile(rf"\b{re.escape(name)}\s*=\s*([A-Za-z_]\w*)\s*[,;]")
        nxt = None
        for i in range(min(before, len(file_lines)) - 1, -1, -1):
            line = file_lines[i]
            if not re.search(r"\b(?:constexpr|const)\b", line):
                continue
            m = alias.search(line)
            if m:
                nxt = m.group(1)
                break
        if nxt is None or nxt == name:
            return None
        name = nxt
    return None


def _param_constants(library: LibrarySpec, catalog, constants) -> dict[tuple[str, str], set[str]]:
    """(kernel entry, tunable) -> the named constants the library's launchers pass for it."""
    root = Path(library.root)
    lines_of: dict[str, list[str]] = {}
    out: dict[tuple[str, str], set[str]] = {}
    by_symbol: dict[str, list] = {}
    for k in catalog.kernels:
        by_symbol.setdefault(k.name, []).append(k)
    for spec in library.kernels:
        for launch in spec.launches:
            for idx, targ in enumerate(launch.template_args):
                param = str(targ).strip()
                if param not in spec.tunables and param not in spec.defaults:
                    continue
                for k in by_symbol.get(launch.symbol, []):
                    for site in k.launch_sites:
                        if idx >= len(site.template_args):
                            continue
                        arg = site.template_args[idx].strip()
                        if not re.fullmatch(r"[A-Za-z_]\w*", arg):
                            continue
                        if site.file not in lines_of:
                            path = root / site.file
                            lines_of[site.file] = path.read_text(errors="replace").splitlines() if path.is_file() else []
                        const = _resolve_constant(arg, lines_of[site.file], site.line, constants)
                        if const:
                            out.setdefault((spec.name, param), set()).add(const)
    return out


# --------------------------------------------------------------------------- manifest edits


def _entry_span(lines: list[str], kernel: str) -> tuple[int, int] | None:
    """Line range [start, end) of a kernel entry (``- name: <kernel>``) in the manifest."""
    head = re.compile(rf"^(\s*)-\s+name:\s*['\"]?{re.escape(kernel)}['\"]?\s*(#.*)?$")
    for i, line in enumerate(lines):
        m = head.match(line)
        if not m:
            continue
        indent = len(m.group(1))
        end = i + 1
        while end < len(lines):
            ln = lines[end]
            if ln.strip() and not ln.lstrip().startswith("#") and len(ln) - len(ln.lstrip()) <= indent:
                break
            end += 1
        return i, end
    return None


def _set_defaults(lines: list[str], spec: KernelSpec, new: dict) -> bool:
    """Set ``defaults`` of the entry to ``new`` (merged over its current ones). True if edited."""
    span = _entry_span(lines, spec.name)
    if span is None:
        return False
    merged = {**spec.defaults, **new}
    text = "{" + ", ".join(f"{k}: {v}" for k, v in merged.items()) + "}"
    for i in range(*span):
        m = re.match(r"^(\s*defaults:\s*)(\{.*\}|\*\w+)?(\s*(#.*)?)$", lines[i].rstrip("\n"))
        if not m:
            continue
        nl = "\n" if lines[i].endswith("\n") else ""
        if m.group(2):
            lines[i] = f"{m.group(1)}{text}{m.group(3)}{nl}"
            return True
        # block mapping: one "KEY: value" line per parameter below
        changed = False
        j = i + 1
        while j < span[1] and re.match(r"^\s+\w+:\s*\S", lines[j]) and \
                len(lines[j]) - len(lines[j].lstrip()) > len(lines[i]) - len(lines[i].lstrip()):
            km = re.match(r"^(\s+(\w+):\s*)(\S+)(.*)$", lines[j].rstrip("\n"))
            if km and km.group(2) in new:
                lines[j] = f"{km.group(1)}{new[km.group(2)]}{km.group(4)}" + ("\n" if lines[j].endswith("\n") else "")
                changed = True
            j += 1
        return changed
    return False


# --------------------------------------------------------------------------- launches with a shrunk grid


def shrunk_grid(grid: str, factor: int) -> str:
    """Host code for ``grid`` (a dim3 or a block count) with 1/factor of the blocks in x, rounded up; a
    lambda, so the expression is evaluated once and the file needs no helper."""
    lead = grid[:len(grid) - len(grid.lstrip())]
    return f"{lead}[](dim3 g) {{ g.x = (g.x + {factor - 1}u) / {factor}u; return g; }}({grid.strip()})"


_OPEN, _CLOSE = "([{", ")]}"


def _skip_angles(text: str, i: int) -> int:
    """Past the template argument list opening at ``text[i] == '<'`` (nested <> and brackets)."""
    depth = 0
    while i < len(text):
        c = text[i]
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
            if depth == 0:
                return i + 1
        elif c in _OPEN:
            i = _skip_brackets(text, i) - 1
        i += 1
    return i


def _skip_brackets(text: str, i: int) -> int:
    """Past the bracket opening at ``text[i]`` (matched with nesting)."""
    depth = 0
    while i < len(text):
        if text[i] in _OPEN:
            depth += 1
        elif text[i] in _CLOSE:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def _argument_end(text: str, i: int, stop: str = ",)") -> int:
    """Where the argument starting at ``i`` ends: the next top-level ``,`` or closing bracket (or ``>>>``)."""
    while i < len(text):
        c = text[i]
        if text.startswith(">>>", i) or c in stop or c in _CLOSE:
            return i
        i = _skip_brackets(text, i) if c in _OPEN else i + 1
    return i


def launch_grid_span(text: str, begin: int, symbol: str) -> tuple[int, int] | None:
    """The span of the grid argument of the first launch of ``symbol`` at or after ``begin``: the first
    argument of ``symbol<...><<<grid, block>>>``, or the argument after the one naming the kernel in a
    launch call or macro (``hipLaunchKernelGGL(kernel, grid, block, ...)`` and the macros shaped like it)."""
    for m in re.finditer(rf"\b{re.escape(symbol)}\b", text[begin:begin + 4000]):
        at = begin + m.end()
        j = at
        while j < len(text) and text[j].isspace():
            j += 1
        if j < len(text) and text[j] == "<" and not text.startswith("<<<", j):
            j = _skip_angles(text, j)
            while j < len(text) and text[j].isspace():
                j += 1
        if text.startswith("<<<", j):
            start = j + 3
            return start, _argument_end(text, start)
        # A call: the kernel's argument ends (closing parentheses around the kernel name too) at a comma.
        k = j
        while k < len(text) and text[k] in ") \t\n":
            k += 1
        if k < len(text) and text[k] == "," and _inside_call(text, begin + m.start()):
            start = k + 1
            end = _argument_end(text, start)
            if end < len(text) and text[end] == ",":
                return start, end
    return None


def _inside_call(text: str, pos: int) -> bool:
    """Whether ``pos`` lies inside a call's parentheses ``name(`` (scanning back over balanced ones)."""
    depth = 0
    i = pos - 1
    while i >= 0:
        c = text[i]
        if c in _CLOSE:
            depth += 1
        elif c in _OPEN:
            if depth == 0:
                if c != "(":
                    return False
                if re.search(r"\w\s*$", text[max(0, i - 80):i]):
                    return True
                # parentheses around the kernel's name: look further out
            else:
                depth -= 1
        elif c == ";" or c == "}" and depth == 0:
            return False
        i -= 1
    return False


def shrink_launch_sites(text: str, sites: list, factor: int) -> tuple[str, list[int]]:
    """``text`` with the grid of every launch site (ingest LaunchSites of this text) set to 1/factor of
    its blocks in x; the lines of the sites it could not find (written in a form it does not recognise)
    are returned, and those sites are left as they are."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    missed: list[int] = []
    edits: dict[int, tuple[int, str]] = {}
    for site in sorted(sites, key=lambda s: s.line):
        span = launch_grid_span(text, starts[site.line - 1], site.kernel) if 1 <= site.line < len(starts) else None
        if span is None or not text[span[0]:span[1]].strip():
            missed.append(site.line)
            continue
        edits[span[0]] = (span[1], shrunk_grid(text[span[0]:span[1]], factor))
    for start in sorted(edits, reverse=True):
        end, new = edits[start]
        text = text[:start] + new + text[end:]
    return text, missed


def shrink_manifest_grids(lines: list[str], symbol: str, factor: int) -> int:
    """Divide grid x of every manifest launch of ``symbol`` (``- symbol: name`` items with a
    ``grid: [...]`` flow list) by ``factor``, in place; the number of launches changed."""
    import yaml

    current = None
    changed = 0
    for i, line in enumerate(lines):
        m = re.match(r"^\s*-\s*\{?\s*symbol:\s*['\"]?([\w:]+)", line)
        if m:
            current = m.group(1)
            inline = re.search(r"\bgrid:\s*(\[[^\]]*\])", line)
            if not inline:
                continue
        elif re.match(r"^\s*-\s", line):
            current = None
        g = re.match(r"^(.*\bgrid:\s*)(\[[^\]]*\])(.*)$", line.rstrip("\n"))
        if current != symbol or not g:
            continue
        inner = g.group(2)[1:-1]
        first_end = _argument_end(inner, 0)
        first = inner[:first_end].strip()
        if not first:
            continue
        try:
            value = yaml.safe_load(first)
        except yaml.YAMLError:
            continue
        lead = inner[:len(inner) - len(inner.lstrip())]
        lines[i] = (f"{g.group(1)}[{lead}{json.dumps(f'ceil_div({value}, {factor})')}{inner[first_end:]}]{g.group(3)}"
                    + ("\n" if line.endswith("\n") else ""))
        changed += 1
    return changed


def _declaration_of(text: str, name: str, before: int) -> tuple[int, int] | None:
    """The span of the initializer of the last declaration ``<type> name = <initializer>;`` before
    ``before``, provided nothing assigns ``name`` again between it and ``before``; None otherwise."""
    decl = re.compile(rf"(?m)^[^\S\n]*(?:(?:const|constexpr|static)\s+)*[A-Za-z_][\w:<>, ]*?[\w>]\s+{re.escape(name)}"
                      rf"\s*=(?!=)\s*")
    found = None
    for m in decl.finditer(text, 0, before):
        found = m
    if found is None:
        return None
    start = found.end()
    end = _argument_end(text, start, stop=";")
    if end >= len(text) or text[end] != ";" or end > before:
        return None
    if re.search(rf"\b{re.escape(name)}\s*(?:[-+*/%&|^]|<<|>>)?=(?!=)", text[end:before]):
        return None
    return start, end


def scale_launch_counts(text: str, sites: list, factor: int) -> tuple[str, list[int]]:
    """``text`` with the block count in x of every launch site divided by ``factor`` (rounded up) where it
    is: the variable the grid's x names (``blocks`` or ``dim3(blocks, ...)``) gets the initializer
    ``(init + factor-1) / factor`` at its declaration, so the other uses of the variable (a reduction's
    second stage folds that many partial results) follow. Lines of the sites where the grid's x is not
    such a variable are returned, and nothing is changed for them."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    missed: list[int] = []
    edits: dict[int, int] = {}
    for site in sorted(sites, key=lambda s: s.line):
        span = launch_grid_span(text, starts[site.line - 1], site.kernel) if 1 <= site.line < len(starts) else None
        grid = text[span[0]:span[1]].strip() if span else ""
        m = re.fullmatch(r"dim3\s*\((.*)\)", grid, flags=re.S)
        first = m.group(1)[:_argument_end(m.group(1), 0)].strip() if m else grid
        decl = _declaration_of(text, first, span[0]) if span and re.fullmatch(r"[A-Za-z_]\w*", first) else None
        if decl is None:
            missed.append(site.line)
            continue
        edits[decl[0]] = decl[1]
    for start in sorted(edits, reverse=True):
        end = edits[start]
        text = f"{text[:start]}({text[start:end].strip()} + {factor - 1}) / {factor}{text[end:]}"
    return text, missed


def scale_manifest_counts(lines: list[str], library: LibrarySpec, symbol: str, arg: str, factor: int) -> int:
    """Divide the value of size argument ``arg`` by ``factor`` in every manifest entry that launches
    ``symbol`` with ``arg`` as its grid's x, in place; the number of entries changed."""
    import yaml

    changed = 0
    for spec in library.kernels:
        if not any(launch.symbol == symbol and launch.grid and launch.grid[0].strip() == arg for launch in spec.launches):
            continue
        span = _entry_span(lines, spec.name)
        if span is None:
            continue
        item = None
        for i in range(*span):
            line = lines[i]
            if re.search(rf"\bname:\s*['\"]?{re.escape(arg)}['\"]?\s*[,}}\n]", line):
                item = i
            elif re.match(r"^\s*-\s", line):
                item = None
            if item is None:
                continue
            if "{" in line:      # a flow mapping: the value ends at the next comma or brace
                v = re.match(r"^(.*\bvalue:\s*)(\"[^\"]*\"|'[^']*'|[^,}\n#]+?)(\s*[,}].*)$", line.rstrip("\n"))
            else:
                v = re.match(r"^(\s*value:\s*)(\"[^\"]*\"|'[^']*'|[^#]+?)(\s*(#.*)?)$", line.rstrip("\n"))
            if not v:
                continue
            old = yaml.safe_load(v.group(2))
            lines[i] = (f"{v.group(1)}{json.dumps(f'ceil_div({old}, {factor})')}{v.group(3)}"
                        + ("\n" if line.endswith("\n") else ""))
            changed += 1
            break
    return changed


def size_scale_of(sel: dict) -> dict[str, int]:
    return {str(k): int(v) for k, v in ((sel.get("candidate") or {}).get("size_scale") or {}).items() if int(v) > 1}


def _text_sites(text: str, symbol: str, dialect: str, macros) -> list:
    """Launch sites of ``symbol`` in one source text (ingested on its own)."""
    from portkern.ingest import ingest_tree

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / ("unit" + EXT[dialect])).write_text(text)
        catalog = ingest_tree(tmp, profile="rocblas" if dialect == "hip" else "cuda", macros=macros)
    return [site for k in catalog.kernels if k.name == symbol for site in k.launch_sites]


def grid_shrink_of(sel: dict) -> dict[str, int]:
    return {str(k): int(v) for k, v in ((sel.get("candidate") or {}).get("grid_shrink") or {}).items() if int(v) > 1}


# --------------------------------------------------------------------------- planning


def _file_lines(plan: PatchPlan, rel: str) -> list[str]:
    if rel not in plan.edits:
        plan.edits[rel] = (Path(plan.library.root) / rel).read_text().splitlines(keepends=True)
    return plan.edits[rel]


def _change(name: str, row: dict, base: dict, sel: dict) -> KernelChange:
    val = sel.get("validation") or {}
    bench = (sel.get("bench") or [{}])[0]
    method = bench.get("method") or row.get("timing_method") or ""
    return KernelChange(kernel=name, status=row.get("status", ""), base_ms=row.get("base_ms"),
                        selected_ms=row.get("selected_ms"), method=method,
                        device=str(val.get("device", "?")), cases=len(val.get("cases", [])),
                        params_before=dict((base.get("candidate") or {}).get("params") or {}),
                        params_after=dict((sel.get("candidate") or {}).get("params") or {}))


def _replace_kernel(lines: list[str], span_old: tuple[int, int], new_source: str, span_new: tuple[int, int]) -> None:
    new_text = new_source.splitlines(keepends=True)[span_new[0] - 1:span_new[1]]
    if new_text and not new_text[-1].endswith("\n"):
        new_text[-1] += "\n"
    lines[span_old[0] - 1:span_old[1]] = new_text


def _prelude(b_src: str, s_src: str, symbol: str, dialect: str, macros, span_new: tuple[int, int]) -> list[str]:
    """Lines the selected unit has right before the kernel that the base unit lacks: the device helpers an
    operator put before the kernel it rewrote (vector loads, shuffles), which the patched file needs too."""
    span_base = _kernel_lines(b_src, symbol, dialect, macros)
    if span_base is None:
        return []
    before_b = b_src.splitlines(keepends=True)[:span_base[0] - 1]
    before_s = s_src.splitlines(keepends=True)[:span_new[0] - 1]
    if len(before_s) <= len(before_b) or before_s[:len(before_b)] != before_b:
        return []
    return before_s[len(before_b):]


def _insert_prelude(lines: list[str], at: int, prelude: list[str]) -> None:
    """Put the helper lines before line ``at`` (1-based) unless the file has them already (a kernel of the
    same file rewritten by the same operator brought them). They go inside an include guard named after
    their text: two patched headers that one translation unit includes define them once."""
    first = next((ln.strip() for ln in prelude if ln.strip()), "")
    if not first or any(ln.strip() == first for ln in lines):
        return
    text = list(prelude)
    if text and not text[-1].endswith("\n"):
        text[-1] += "\n"
    while text and not text[-1].strip():
        text.pop()
    guard = "PORTKERN_HELPERS_" + hashlib.sha256("".join(text).encode()).hexdigest()[:12].upper()
    lines[at - 1:at - 1] = [f"#ifndef {guard}\n", f"#define {guard}\n", *text, f"#endif // {guard}\n", "\n"]


def _tune_kernel(plan: PatchPlan, spec: KernelSpec, row: dict, base: dict, sel: dict, catalog,
                 param_consts, constants, claimed: dict) -> None:
    lib = plan.library
    change = _change(spec.name, row, base, sel)
    b_src, s_src = base["candidate"]["source"], sel["candidate"]["source"]
    shrink, scale = grid_shrink_of(sel), size_scale_of(sel)
    if _squash(b_src) != _squash(s_src):
        span_new = _kernel_lines(s_src, spec.symbol, lib.dialect, lib.macros)
        originals = [k for k in catalog.kernels if k.name == spec.symbol]
        new_def = "".join(s_src.splitlines(keepends=True)[span_new[0] - 1:span_new[1]]) if span_new else ""
        if span_new and originals and not plan.claim_kernel(spec.symbol, spec.name, new_def, record=False):
            return
        if (shrink or scale) and not _shrink_library_launches(plan, spec, shrink, catalog, change, scale):
            return
        if span_new and originals:
            plan.claim_kernel(spec.symbol, spec.name, new_def)
            k = originals[0]
            lines = _file_lines(plan, k.file)
            # where the kernel is now: an earlier edit of the file may have moved it
            span_old = _kernel_lines("".join(lines), spec.symbol, lib.dialect, lib.macros) or (k.line, k.end_line)
            _replace_kernel(lines, span_old, s_src, span_new)
            _insert_prelude(lines, span_old[0], _prelude(b_src, s_src, spec.symbol, lib.dialect, lib.macros, span_new))
            change.where.append(f"{spec.symbol} rewritten in {k.file}")
        else:
            plan.notes.append(f"{spec.name}: the rewritten kernel could not be located for a source edit; not patched")
    for param, value in sorted(change.params_after.items()):
        if change.params_before.get(param) == value:
            continue
        names = sorted(param_consts.get((spec.name, param), set()))
        if not names:
            plan.notes.append(f"{spec.name}: {param}={value} has no named constant at the kernel's launch sites; "
                              "set it where the library launches the kernel")
            continue
        for name in names:
            if name in claimed and claimed[name][1] != value:
                plan.notes.append(f"{spec.name}: {name} is also tuned to {claimed[name][1]} by {claimed[name][0]}; "
                                  "kept that value")
                continue
            claimed[name] = (spec.name, value)
            rel, i = constants[name]
            lines = _file_lines(plan, rel)
            m = _CONSTANT.match(lines[i].rstrip("\n"))
            nl = "\n" if lines[i].endswith("\n") else ""
            lines[i] = (f"{m.group(1)}{value}{m.group(4)}" if m.group(2) else f"{m.group(5)}{value}{m.group(8)}") + nl
            change.where.append(f"{name} = {value} in {rel}")
            # every manifest entry launched through this constant now runs with the new value
            manifest = _file_lines(plan, "library.yaml")
            for other in lib.kernels:
                for (kname, kparam), consts in param_consts.items():
                    if kname == other.name and name in consts and other.defaults.get(kparam) != value:
                        if _set_defaults(manifest, other, {kparam: value}):
                            if other.name != spec.name:
                                checked = plan.validated_at(other.name, {**other.defaults, kparam: value})
                                plan.notes.append(f"{other.name}: also launched with {name}; its default {kparam} "
                                                  f"is now {value} " + (f"(validated at that value in this run: {checked}; "
                                                                        "not selected for it)" if checked else
                                                                        "(this run did not validate it at that value)"))
    if change.where:
        plan.changes.append(change)


def launch_changes(spec: KernelSpec, shrink: dict[str, int], scale: dict[str, int]) -> list[tuple[tuple, int]]:
    """What a candidate changes in how its kernels are launched: (("grid", symbol), factor) for a grid's x
    divided at the launch, (("count", symbol, argument), factor) for a size argument divided that a
    launch of ``symbol`` takes as its grid's x (a reduction's block count)."""
    out: list[tuple[tuple, int]] = [(("grid", symbol), factor) for symbol, factor in sorted(shrink.items())]
    for arg, factor in sorted(scale.items()):
        symbols = dict.fromkeys(launch.symbol for launch in spec.launches if launch.grid and launch.grid[0].strip() == arg)
        out += [(("count", symbol, arg), factor) for symbol in symbols]
    return out


def _shrink_library_launches(plan: PatchPlan, spec: KernelSpec, shrink: dict[str, int], catalog,
                             change: KernelChange, scale: dict[str, int] | None = None) -> bool:
    """Make the library launch each kernel in ``shrink`` with its grid's x divided by the factor, and divide
    the host variable of every block count in ``scale`` (``scale_launch_counts``), at every host launch site
    and in every manifest entry; False (and nothing edited) when a site cannot be found: the rewritten
    kernel is correct with either grid, but its measured speed needs the smaller one."""
    planned: list[tuple[str, str, int, list]] = []
    todo = launch_changes(spec, shrink, scale or {})
    for key, factor in todo:
        if key in plan.launch_changes:
            if plan.launch_changes[key] != factor:
                plan.notes.append(f"{spec.name}: {key[1]} is launched with 1/{plan.launch_changes[key]} of the blocks "
                                  f"by another entry's candidate; this one (1/{factor}) is not patched")
                return False
            continue
        symbol = key[1]
        sites = [site for k in catalog.kernels if k.name == symbol for site in k.launch_sites]
        if not sites:
            plan.notes.append(f"{spec.name}: no host code launches {symbol}; its launch with 1/{factor} of the "
                              "blocks cannot be patched, the kernel is not patched")
            return False
        by_file: dict[str, list] = {}
        for site in sites:
            by_file.setdefault(site.file, []).append(site)
        for rel, file_sites in sorted(by_file.items()):
            text = next((new for r, new, _, _ in reversed(planned) if r == rel), None) or "".join(_file_lines(plan, rel))
            if key[0] == "grid":
                new, missed = shrink_launch_sites(text, file_sites, factor)
            else:
                new, missed = scale_launch_counts(text, file_sites, factor)
            if missed:
                plan.notes.append(f"{spec.name}: the launch of {symbol} at {rel}:{missed[0]} is not in a form the "
                                  f"patch can shrink; set its grid's x to 1/{factor} by hand, or keep the kernel "
                                  "as it is (not patched)")
                return False
            planned.append((rel, new, factor, file_sites))
    for rel, new, factor, file_sites in planned:
        plan.edits[rel] = new.splitlines(keepends=True)
        change.where.append(f"{file_sites[0].kernel} launched with 1/{factor} of the blocks in x "
                            f"({len(file_sites)} site(s) in {rel})")
    # A manifest kept beside the tree is patched with it; one that describes an external tree (a
    # library checkout) lives elsewhere, so the patch says what it needs instead.
    manifest = None if plan.library.manifest_dir else _file_lines(plan, "library.yaml")
    for key, factor in todo:
        if key in plan.launch_changes:
            continue
        plan.launch_changes[key] = factor
        if manifest is None:
            what = f"the grid's x of {key[1]}" if key[0] == "grid" else f"{key[2]} (the blocks of {key[1]})"
            where = f"{Path(plan.library.manifest_dir).name}/library.yaml"
            plan.notes.append(f"{spec.name}: the manifest describing this tree ({where}) is not part of it: "
                              f"divide {what} by {factor} there too, as the patched host code does")
        elif key[0] == "grid":
            shrink_manifest_grids(manifest, key[1], factor)
        else:
            scale_manifest_counts(manifest, plan.library, key[1], key[2], factor)
    return True


def _translated_tree(plan: PatchPlan, selected: dict[str, tuple[KernelSpec, dict, dict, dict]], run: dict) -> None:
    """Port mode: translate every code file of the library into ``<dialect>/`` and splice in the
    verified candidates; write the manifest and a Makefile for the new tree."""
    from portkern.translate import translate_source

    lib, to = plan.library, plan.target_dialect
    root = Path(lib.root)
    source_files = {str(p.relative_to(root)).replace(os.sep, "/") for p in lib.source_files()}
    from portkern.pipeline.snapshot import library_input_files

    code = [rel for rel in library_input_files(lib) if not rel.startswith("../") and rel.endswith(CODE_EXTS)]
    renamed: dict[str, str] = {}
    texts: dict[str, str] = {}
    for rel in code:
        new_rel = rel
        if rel in source_files and Path(rel).suffix in SOURCE_EXTS:
            new_rel = str(Path(rel).with_suffix(EXT[to]))
        renamed[rel] = new_rel
        result = translate_source((root / rel).read_text(errors="replace"), to=to, filename=rel)
        texts[new_rel] = result.text
    shrunk: dict[str, list[tuple[tuple, int]]] = {}
    for name, (spec, row, base, sel) in sorted(selected.items()):
        change = _change(name, row, base, sel)
        file_rel = renamed.get(spec.file, spec.file)
        text = texts.get(file_rel)
        s_src = sel["candidate"]["source"]
        span_new = _kernel_lines(s_src, spec.symbol, to, lib.macros)
        span_old = _kernel_lines(text, spec.symbol, to, lib.macros) if text is not None else None
        todo = launch_changes(spec, grid_shrink_of(sel), size_scale_of(sel))
        if span_new and span_old:
            new_def = "".join(s_src.splitlines(keepends=True)[span_new[0] - 1:span_new[1]])
            old_def = "".join(text.splitlines(keepends=True)[span_old[0] - 1:span_old[1]])
            if _squash(old_def) != _squash(new_def) and not plan.claim_kernel(spec.symbol, name, new_def,
                                                                                 record=False):
                continue
        left_out = False
        if todo and text is not None and span_new and span_old:
            shrunk_text = text
            done: list[tuple[tuple, int]] = []
            for key, factor in todo:
                if plan.launch_changes.get(key, factor) != factor:
                    missed, sites = [0], [None]
                elif key in plan.launch_changes:
                    continue
                else:
                    sites = _text_sites(shrunk_text, key[1], to, lib.macros)
                    edit = shrink_launch_sites if key[0] == "grid" else scale_launch_counts
                    shrunk_text, missed = edit(shrunk_text, sites, factor)
                if missed or not sites:
                    plan.notes.append(f"{name}: the launch of {key[1]} in {to}/{file_rel} could not be given 1/{factor} "
                                      "of the blocks; the tree holds the rules' translation of the kernel")
                    span_new, left_out = None, True
                    break
                done.append((key, factor))
            else:
                text = texts[file_rel] = shrunk_text
                span_old = _kernel_lines(text, spec.symbol, to, lib.macros)
                for key, factor in done:
                    plan.launch_changes[key] = factor
                shrunk[name] = done
                if done:
                    change.where.append(f"{spec.symbol} launched with 1/{max(f for _, f in done)} of the blocks in x "
                                        f"in {to}/{file_rel}")
        if span_new and span_old:
            lines = text.splitlines(keepends=True)
            old_def = "".join(lines[span_old[0] - 1:span_old[1]])
            new_def = "".join(s_src.splitlines(keepends=True)[span_new[0] - 1:span_new[1]])
            if _squash(old_def) != _squash(new_def):
                plan.claim_kernel(spec.symbol, name, new_def)
                _replace_kernel(lines, span_old, s_src, span_new)
                _insert_prelude(lines, span_old[0],
                                _prelude(base["candidate"]["source"], s_src, spec.symbol, to, lib.macros, span_new))
                texts[file_rel] = "".join(lines)
                change.where.append(f"{spec.symbol} in {to}/{file_rel} is the verified candidate "
                                    f"{sel['candidate']['id']}")
        elif not left_out and _squash(s_src) not in _squash(text or ""):
            plan.notes.append(f"{name}: the verified candidate could not be placed in {to}/{file_rel}; "
                              "the tree holds the rules' translation")
        plan.changes.append(change)
    unverified = sorted(k.name for k in lib.kernels if k.name not in selected)
    if unverified:
        plan.notes.append(f"translated by the rules, not verified by this run: {', '.join(unverified)}")
    for rel, text in texts.items():
        plan.new_files[f"{to}/{rel}"] = text if text.endswith("\n") else text + "\n"
    plan.new_files[f"{to}/library.yaml"] = _port_manifest(plan, renamed, {n: s[3] for n, s in selected.items()},
                                                          shrunk)
    plan.new_files[f"{to}/Makefile"] = _makefile(plan, sorted(v for k, v in renamed.items() if k in source_files))


def _port_manifest(plan: PatchPlan, renamed: dict[str, str], selected: dict[str, dict],
                   shrunk: dict[str, list[tuple[tuple, int]]] | None = None) -> str:
    lib, to = plan.library, plan.target_dialect
    lines = Path(lib.manifest_path).read_text().splitlines(keepends=True)
    ext_new = EXT[to].lstrip(".")
    out = []
    for line in lines:
        if re.match(r"^dialect:\s*\w+", line):
            line = re.sub(r"^dialect:\s*\w+", f"dialect: {to}", line)
        elif line.startswith("sources:"):
            line = re.sub(r"\*\.(cu|hip|cpp|cc|cxx)\b", f"*.{ext_new}", line)
        elif line.startswith("include_dirs:"):
            line = re.sub(r"(?<=[\[,\s])(\.\./[^,\]\s]+)", r"../\1", line)
        else:
            m = re.match(r"^(\s*file:\s*)(\S+)(.*)$", line.rstrip("\n"))
            if m and m.group(2) in renamed:
                line = f"{m.group(1)}{renamed[m.group(2)]}{m.group(3)}\n"
            line = re.sub(r"^(\s*reference:\s*)(?!\.\./)(\S)", r"\1../\2", line)
        out.append(line)
    for name, sel in selected.items():
        _set_defaults(out, lib.kernel(name), (sel.get("candidate") or {}).get("params") or {})
    for done in (shrunk or {}).values():
        for key, factor in done:
            if key[0] == "grid":
                shrink_manifest_grids(out, key[1], factor)
            else:
                scale_manifest_counts(out, lib, key[1], key[2], factor)
    head = (f"# {lib.name} ported to {to.upper()} by portkern (run {plan.run_id}, target {plan.target}); "
            "defaults are the parameters the run selected.\n")
    return head + "".join(out)


def _makefile(plan: PatchPlan, sources: list[str]) -> str:
    from portkern.targets import get_target

    lib, to = plan.library, plan.target_dialect
    arch = get_target(plan.target).arch
    incs = " ".join(f"-I{d}" if not d.startswith("../") else f"-I../{d}" for d in lib.include_dirs)
    flags = " ".join(lib.compile_flags)
    objs = " ".join(str(Path(s).with_suffix(".o")) for s in sources)
    if to == "hip":
        compiler, rule = "HIPCC ?= hipcc\nARCH ?= " + arch, "$(HIPCC) -x hip --offload-arch=$(ARCH)"
    else:
        compiler, rule = "NVCC ?= nvcc\nARCH ?= " + arch, "$(NVCC) -x cu -arch=$(ARCH)"
    ext = EXT[to]
    return (f"# Build of the {to.upper()} port of {lib.name} (written by portkern): one object per source,\n"
            f"# archived into lib{lib.name}_{to}.a.\n{compiler}\nFLAGS ?= {flags}\nINCLUDES = {incs}\n"
            f"OBJS = {objs}\n\nlib{lib.name}_{to}.a: $(OBJS)\n\tar rcs $@ $^\n\n"
            f"%.o: %{ext}\n\t{rule} $(FLAGS) $(INCLUDES) -c $< -o $@\n\n"
            f"clean:\n\trm -f $(OBJS) lib{lib.name}_{to}.a\n\n.PHONY: clean\n")


def plan_patch(run_dir: str | Path) -> PatchPlan:
    run_dir = Path(run_dir)
    rows = read_rows(run_dir)
    run, kernels = rows.run, rows.kernels
    library = load_run_library(run_dir, run["library"])
    mode = "tune" if run["source_dialect"] == run["target_dialect"] else "port"
    plan = PatchPlan(run_id=run_dir.name, library=library, target=run["target"], mode=mode,
                     target_dialect=run["target_dialect"])
    selected: dict[str, tuple[KernelSpec, dict, dict, dict]] = {}
    for name, row in sorted(kernels.items()):
        sel_id, base_id = row.get("selected_candidate"), row.get("base_candidate")
        evs = evaluations(run_dir, name) if sel_id else {}
        sel, base = evs.get(sel_id or ""), evs.get(base_id or "")
        if not sel or not (sel.get("validation") or {}).get("passed"):
            plan.notes.append(f"{name}: {row.get('status')}, not patched ({row.get('reason') or 'no verified candidate'})")
            continue
        selected[name] = (library.kernel(name), row, base or sel, sel)
        val = sel.get("validation") or {}
        plan.validated_on = plan.validated_on or str(val.get("device", ""))
        plan.timing = plan.timing or ((sel.get("bench") or [{}])[0].get("method") or "")
    if mode == "port":
        if selected:
            _translated_tree(plan, selected, run)
        return plan
    tuned = {n: s for n, s in selected.items()
             if s[1].get("status") == "improved" and s[1].get("selected_candidate") != s[1].get("base_candidate")}
    for name in sorted(set(selected) - set(tuned)):
        plan.notes.append(f"{name}: {selected[name][1].get('status')}, unchanged "
                          f"({selected[name][1].get('reason') or 'the library version stays'})")
    if tuned:
        from portkern.ingest import ingest_library

        for name in kernels:
            plan.validated_points[name] = [
                (cid, dict(ev["candidate"].get("params") or {})) for cid, ev in evaluations(run_dir, name).items()
                if (ev.get("validation") or {}).get("passed")
                and ev["candidate"].get("origin") in ("original", "rules", "sweep")]

        catalog = ingest_library(library)
        constants = _constant_sites(library)
        param_consts = _param_constants(library, catalog, constants)
        claimed: dict[str, tuple[str, int]] = {}
        for _name, (spec, row, base, sel) in sorted(tuned.items()):
            _tune_kernel(plan, spec, row, base, sel, catalog, param_consts, constants, claimed)
    return plan


# --------------------------------------------------------------------------- rendering


def _hunk_lines(lines: list[str]) -> list[str]:
    """Diff body lines; a last line without a newline gets git's marker."""
    out = list(lines)
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n\\ No newline at end of file\n"
    return out


def _unified(rel: str, old: list[str], new: list[str]) -> str:
    import difflib

    old_n = [ln if ln.endswith("\n") else ln + "\x00" for ln in old]
    new_n = [ln if ln.endswith("\n") else ln + "\x00" for ln in new]
    body = []
    for line in difflib.unified_diff(old_n, new_n, f"a/{rel}", f"b/{rel}", n=3):
        if line.endswith("\x00"):
            line = line[:-1] + "\n\\ No newline at end of file\n"
        elif line.startswith(("---", "+++")) and not line.endswith("\n"):
            line += "\n"
        body.append(line)
    return f"diff --git a/{rel} b/{rel}\n" + "".join(body)


def render(plan: PatchPlan) -> str:
    """The diff (paths relative to the library root)."""
    out: list[str] = []
    root = Path(plan.library.root)
    for rel in sorted(plan.edits):
        old = (root / rel).read_text().splitlines(keepends=True)
        if old != plan.edits[rel]:
            out.append(_unified(rel, old, plan.edits[rel]))
    for rel, text in sorted(plan.new_files.items()):
        lines = text.splitlines(keepends=True)
        out.append(f"diff --git a/{rel} b/{rel}\nnew file mode 100644\n--- /dev/null\n+++ b/{rel}\n"
                   f"@@ -0,0 +1{',' + str(len(lines)) if len(lines) != 1 else ''} @@\n")
        out.extend(_hunk_lines(["+" + ln for ln in lines]))
    return "".join(out)


def _diffstat(patch: str) -> str:
    stats: list[tuple[str, int, int]] = []
    for block in re.split(r"^diff --git ", patch, flags=re.M)[1:]:
        path = block.split("\n", 1)[0].split(" b/", 1)[-1]
        adds = sum(1 for ln in block.splitlines() if ln.startswith("+") and not ln.startswith("+++"))
        dels = sum(1 for ln in block.splitlines() if ln.startswith("-") and not ln.startswith("---"))
        stats.append((path, adds, dels))
    if not stats:
        return ""
    width = max(len(p) for p, _, _ in stats)
    lines = [f" {p:<{width}} | {a + d:>4} {'+' * min(a, 40)}{'-' * min(d, 40)}" for p, a, d in stats]
    total_a, total_d = sum(a for _, a, _ in stats), sum(d for _, _, d in stats)
    lines.append(f" {len(stats)} file{'s' if len(stats) != 1 else ''} changed, {total_a} insertions(+), "
                 f"{total_d} deletions(-)")
    return "\n".join(lines) + "\n"


def commit_message(plan: PatchPlan) -> str:
    if plan.mode == "tune":
        title = f"portkern: tune {plan.library.name} kernels for {plan.target}"
        lead = (f"Parameters tuned for {plan.target} by portkern run {plan.run_id}: each changed where the "
                "library defines it.")
    else:
        title = f"portkern: port {plan.library.name} kernels to {plan.target}"
        lead = (f"The {plan.target_dialect.upper()} translation of {plan.library.name} for {plan.target} "
                f"(portkern run {plan.run_id}), under {plan.target_dialect}/ with its own library.yaml and "
                "Makefile.")
    timing = ("times are predicted by portkern's performance model, not measured (no device): each gain "
              "claimed has the whole 90% interval of its predicted speedup above 1.0x; `portkern review RUN "
              "--device` times them on a GPU" if plan.timing == "estimate" else "times measured on the device")
    body = [_wrap(lead), "", _wrap(f"Evidence: validated on {plan.validated_on or 'n/a'}; {timing}."), ""]
    for change in plan.changes:
        body += [change.evidence(), ""]
    if plan.notes:
        body += ["Notes:", *[_wrap(f"- {n}", indent="  ") for n in plan.notes], ""]
    return title + "\n\n" + "\n".join(body).rstrip("\n") + "\n"


def _wrap(text: str, width: int = 72, indent: str = "") -> str:
    import textwrap

    return textwrap.fill(text, width=width, subsequent_indent=indent, break_long_words=False,
                         break_on_hyphens=False)


def git_identity(cwd: str | Path | None = None) -> str | None:
    """The user's git author identity ("Name <email>"), or None when git has none configured."""
    try:
        r = subprocess.run(["git", "var", "GIT_AUTHOR_IDENT"], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    m = re.match(r"^(.*<[^>]*>)", r.stdout.strip())
    return m.group(1) if m else None


def format_patch(plan: PatchPlan, identity: str | None = None, when: datetime | None = None) -> str:
    """The patch as ``git format-patch`` writes it: mail headers, the message, a diffstat, the diff."""
    diff = render(plan)
    if not diff:
        return ""
    message = commit_message(plan)
    subject, _, body = message.partition("\n\n")
    when = when or datetime.now(timezone.utc)
    return (f"From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n"
            f"From: {identity or git_identity() or FALLBACK_IDENTITY}\n"
            f"Date: {format_datetime(when)}\n"
            f"Subject: [PATCH] {subject}\n\n"
            f"{body.rstrip()}\n---\n{_diffstat(diff)}\n{diff}-- \nportkern {__version__}\n\n")


def write_patch(run_dir: str | Path) -> Path:
    """Write ``emit/port.patch`` (format-patch output) and ``emit/COMMIT_MSG``."""
    from portkern.fsio import write_text

    run_dir = Path(run_dir)
    plan = plan_patch(run_dir)
    out = run_dir / "emit" / "port.patch"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, format_patch(plan))
    write_text(run_dir / "emit" / "COMMIT_MSG", commit_message(plan))
    return out


# --------------------------------------------------------------------------- git


def _git(checkout: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(checkout), *args], input=stdin, capture_output=True, text=True)


def apply_as_commit(run_dir: str | Path, checkout: str | Path, worktree: str | Path | None = None) -> tuple[str, Path]:
    """Commit the run's patch on a new branch ``portkern/<run>``, in a new git worktree of the
    library checkout (the user's own checkout stays on its branch, untouched), as the user.

    Refuses a checkout with uncommitted changes to tracked files (the commit is made from HEAD, so
    work in progress would otherwise be silently left out or in). Returns (branch, worktree path).
    """
    run_dir, checkout = Path(run_dir), Path(checkout)
    plan = plan_patch(run_dir)
    if not render(plan):
        raise PatchError(f"run {run_dir.name} changes nothing in {plan.library.name}", hint="nothing to commit")
    top = _git(checkout, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        raise PatchError(f"{checkout} is not a git checkout", hint="pass --checkout pointing at the library's git tree")
    toplevel = Path(top.stdout.strip())
    if _git(checkout, "rev-parse", "--verify", "-q", "HEAD").returncode != 0:
        raise PatchError(f"{toplevel} has no commit yet", hint="commit the library first, then run `portkern pr --git`")
    dirty = _git(checkout, "status", "--porcelain", "--untracked-files=no").stdout.strip()
    if dirty:
        first = dirty.splitlines()[0]
        raise PatchError(f"{toplevel} has uncommitted changes ({first.strip()}"
                         f"{', ...' if len(dirty.splitlines()) > 1 else ''})",
                         hint="commit or stash them first; the branch is made from HEAD")
    identity = git_identity(checkout)
    if identity is None:
        raise PatchError("git has no author identity for this user",
                         hint="set one: git config --global user.name 'Your Name'; "
                              "git config --global user.email you@example.com")
    prefix = _git(checkout, "rev-parse", "--show-prefix").stdout.strip().rstrip("/")
    branch = f"portkern/{run_dir.name}"
    if _git(checkout, "rev-parse", "--verify", "-q", f"refs/heads/{branch}").returncode == 0:
        raise PatchError(f"branch {branch} already exists in {toplevel}",
                         hint=f"delete it (git branch -D {branch}) or look at it")
    wt = Path(worktree) if worktree else toplevel.parent / f"{toplevel.name}-portkern-{run_dir.name}"
    if wt.exists():
        raise PatchError(f"{wt} already exists", hint="pass --worktree with a new folder")
    r = _git(checkout, "worktree", "add", "-q", "-b", branch, str(wt), "HEAD")
    if r.returncode != 0:
        raise PatchError(f"git worktree add failed in {toplevel}: {r.stderr.strip()}")
    mail = format_patch(plan, identity=identity)
    am = ["am", "-q", "--keep-cr"] + ([f"--directory={prefix}"] if prefix else [])
    r = _git(wt, *am, stdin=mail)
    if r.returncode != 0:
        _git(wt, "am", "--abort")
        _git(checkout, "worktree", "remove", "--force", str(wt))
        _git(checkout, "branch", "-D", branch)
        raise PatchError(f"the patch does not apply to {toplevel} at HEAD: {(r.stderr or r.stdout).strip()[:800]}",
                         hint="the checkout must hold the library as the run read it (inputs/library in the run folder)")
    return branch, wt
