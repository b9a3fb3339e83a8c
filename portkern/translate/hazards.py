"""Hazard analysis: code whose meaning depends on the warp/wavefront width or on a vendor-only feature.

Each finding carries file:line, a severity, a one-line explanation and, where a rule can fix it
safely, the fix is applied and the finding is marked ``fixed``. What no rule can fix is reported with
its exact region so the model stage can take it over.

Directions: ``to="hip"`` checks CUDA code for 32-wide-warp assumptions (AMD CDNA wavefronts are 64
wide); ``to="cuda"`` checks HIP code for 64-wide assumptions (NVIDIA warps are 32 wide).
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field

from portkern.translate.compat import insert_after_includes
from portkern.translate.maps import MapTables
from portkern.translate.source import SourceEdit
from portkern.translate.warp import FULL_MASK_32, FULL_MASK_64

WARP_MACRO = re.compile(r"(?i)^(?:k?_*warp_?size|k?_*wave_?size|k?_*wavefront_?size|warp_?sz|[A-Z_]*_WARP_SIZE|"
                        r"[A-Z_]*_WAVE_SIZE|WARPSIZE|WAVESIZE|THREADS_PER_WARP)$")
_NUMBER_VALUE = re.compile(r"^(?:0[xX]([0-9a-fA-F]+)|([0-9]+))[uUlL]*$")
# Names that hold thread/lane/warp quantities ("width" must not match, hence the anchors).
_THREADISH = re.compile(r"(?i)^(?:\w*lane\w*|tid\w*|\w*_tid|t_?idx|\w*thread\w*|warp\w*|wid|w_?id|\w*_warp\w*)$")
_SHUFFLES = frozenset({"__shfl", "__shfl_up", "__shfl_down", "__shfl_xor", "__shfl_sync", "__shfl_up_sync",
                       "__shfl_down_sync", "__shfl_xor_sync"})
_BALLOTS = frozenset({"__ballot", "__ballot_sync", "__activemask"})
_NARROW_TYPES = frozenset({"unsigned", "int", "uint32_t", "uint", "unsigned int", "long", "unsigned long",
                           "int32_t"})
_WMMA_NAMES = frozenset({"wmma", "nvcuda", "mma_sync", "load_matrix_sync", "store_matrix_sync", "fill_fragment"})
_TEXTURE_FETCH = frozenset({"tex1Dfetch", "tex1D", "tex2D", "tex3D", "tex1DLod", "tex2DLod", "tex3DLod",
                            "texCubemap", "tex2DLayered", "tex1DLayered", "tex2Dgather"})
_SURFACE_CALLS = frozenset({"surf1Dread", "surf1Dwrite", "surf2Dread", "surf2Dwrite", "surf3Dread",
                            "surf3Dwrite", "surf2DLayeredread", "surf2DLayeredwrite"})
_ASM = frozenset({"asm", "__asm__", "__asm"})


class _IntValues(dict):
    """Literal text -> its integer value, or None (a float, a name...); remembered across files."""

    def __missing__(self, text: str) -> int | None:
        m = _NUMBER_VALUE.match(text)
        value = None if not m else int(m.group(1), 16) if m.group(1) else int(m.group(2))
        if len(self) < 100_000:
            self[text] = value
        return value


_int_value = _IntValues().__getitem__


@functools.lru_cache(maxsize=16)
def _spellings_of(values: frozenset[int]) -> re.Pattern:
    """Lines that may spell one of ``values`` as ``_NUMBER_VALUE`` reads a literal: decimal or hex digits
    after any leading zeros, any case, any integer suffix."""
    decimal = "|".join(str(v) for v in values)
    hexadecimal = "|".join("".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in f"{v:x}") for v in values)
    return re.compile(rf"^(?:0*(?:{decimal})|0[xX]0*(?:{hexadecimal}))[uUlL]*$", re.MULTILINE)


def _numbers_valued(src: SourceEdit, values: set[int]) -> list[int]:
    """Significant indices, in order, of the integer literals whose value is in ``values`` (found through
    the file's distinct spellings, not by visiting every number: one regex scan of the spellings picks
    those that may have such a value)."""
    found: list[int] = []
    if not src.number_texts():
        return found
    for text in _spellings_of(frozenset(values)).findall(src.number_lines()):
        if _int_value(text) in values:
            found.extend(si for si in src.by_text[text] if src.skinds[si] == "number")
    found.sort()
    return found


class _Width:
    """The width the source assumes and its derived literals (32-wide for CUDA, 64-wide for HIP)."""

    def __init__(self, to: str):
        self.assumed = 32 if to == "hip" else 64
        self.other = 64 if to == "hip" else 32
        self.shift = 5 if to == "hip" else 6


@dataclass(frozen=True)
class Context:
    """What every rule sees: the file being edited, the name tables and the direction."""

    src: SourceEdit
    tables: MapTables
    to: str
    width: _Width
    reported: set[tuple[str, int]] = field(default_factory=set)

    def once(self, kind: str, si: int) -> bool:
        """True the first time ``kind`` is reported on the line of ``si``."""
        key = (kind, self.src.line_of(si))
        if key in self.reported:
            return False
        self.reported.add(key)
        return True


@dataclass(frozen=True)
class FileRule:
    name: str
    directions: frozenset[str]
    run: Callable[[Context], None]


@dataclass(frozen=True)
class TokenRule:
    """A rule that looks at single tokens: those spelled as ``spellings`` (or starting with ``prefixes``,
    or ``#include`` lines when ``includes``). ``check`` returns True when it took the token, so a later
    rule does not look at it again."""

    name: str
    directions: frozenset[str]
    check: Callable[[Context, int], bool]
    spellings: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    includes: bool = False
    dynamic: Callable[[Context], set[str]] | None = None   # spellings that come from the name tables


FILE_RULES: list[FileRule] = []
TOKEN_RULES: list[TokenRule] = []
BOTH = ("hip", "cuda")


def file_rule(*directions: str):
    """Register a rule that scans the whole file (run in registration order)."""
    def register(fn: Callable[[Context], None]):
        FILE_RULES.append(FileRule(fn.__name__.strip("_"), frozenset(directions or BOTH), fn))
        return fn
    return register


def token_rule(*directions: str, spellings=(), prefixes=(), includes=False, dynamic=None):
    """Register a rule for tokens with the given spellings (tried in registration order)."""
    def register(fn: Callable[[Context, int], bool]):
        TOKEN_RULES.append(TokenRule(fn.__name__.strip("_"), frozenset(directions or BOTH), fn,
                                     frozenset(spellings), tuple(prefixes), includes, dynamic))
        return fn
    return register


def analyze(src: SourceEdit, tables: MapTables, to: str) -> None:
    ctx = Context(src, tables, to, _Width(to))
    for rule in FILE_RULES:
        if to in rule.directions:
            rule.run(ctx)
    _run_token_rules(ctx)


def _run_token_rules(ctx: Context) -> None:
    src = ctx.src
    rules = [r for r in TOKEN_RULES if ctx.to in r.directions]
    rank = {id(r): i for i, r in enumerate(rules)}
    present = src.by_text.keys()
    # only the spellings this file contains: a chain for any other could never be used
    by_spelling: dict[str, list[TokenRule]] = {}
    prefixed: list[TokenRule] = []
    include_rules = [r for r in rules if r.includes]
    for r in rules:
        names = r.spellings | r.dynamic(ctx) if r.dynamic else r.spellings
        for name in present & names:
            by_spelling.setdefault(name, []).append(r)
        if r.prefixes:
            prefixed.append(r)
    if prefixed:
        for name in present:
            for r in prefixed:
                if name.startswith(r.prefixes) and all(x is not r for x in by_spelling.get(name, ())):
                    by_spelling.setdefault(name, []).append(r)
    for chain in by_spelling.values():
        chain.sort(key=lambda r: rank[id(r)])
    sites = [(si, by_spelling[src.stext(si)]) for si in src.where_any(by_spelling)]
    sites += [(bisect_left(src.sig, ti), include_rules) for ti in src.include_tis]
    for si, chain in sorted(sites, key=lambda s: s[0]):
        for r in chain:
            if r.check(ctx, si):
                break


# --------------------------------------------------------------------------- warp width


@dataclass
class _WarpPlan:
    """Every rewrite that changes the warp width a file assumes, and everything that conflicts with it.

    The rewrites are applied together or not at all: a fix of some sites next to kept 32s (a tile, a
    shift, an unrolled reduction, a shared array, a block size) mixes two warp widths in one reduction.
    """

    token_fixes: list[tuple[int, str, str]] = field(default_factory=list)   # (si, new text, what)
    span_fixes: list[tuple[int, int, str, str, str]] = field(default_factory=list)  # (start, end, text, kind, msg)
    conflicts: list[tuple[int, str, str]] = field(default_factory=list)     # (si, kind, why it conflicts)


def _plan_warp_macros(ctx: Context, plan: _WarpPlan) -> None:
    """``#define WARP_SIZE 32`` -> the compiler's wavefront size on AMD (32 where it is not defined)."""
    src, to, width = ctx.src, ctx.to, ctx.width
    sig = src.sig
    for define_si in src.where("define"):
        si = define_si + 1
        if si + 1 >= len(sig) or define_si < 1:
            continue
        if src.skinds[si] != "ident" or src.stexts[si - 2] != "#":
            continue
        name = src.stexts[si]
        if not WARP_MACRO.match(name):
            continue
        value = src.stexts[si + 1]
        if not src.sdirective[si + 1] or _int_value(value) != width.assumed:
            continue
        if si + 2 < len(sig) and src.sdirective[si + 2] and \
                src.lines.line(src.sstarts[si + 2]) == src.lines.line(src.sstarts[si + 1]):
            continue  # the value is part of a longer expression: leave it to a person
        if to == "hip":
            new = (f"#if defined(__AMDGCN_WAVEFRONT_SIZE)\n#define {name} __AMDGCN_WAVEFRONT_SIZE\n"
                   f"#else\n#define {name} {value}\n#endif")
            msg = (f"{name} hard-codes a 32-lane warp; it now follows the compiler's wavefront size "
                   "(64 on CDNA, 32 on RDNA)")
        else:
            new = f"#define {name} 32"
            msg = f"{name} hard-codes a 64-lane wavefront; NVIDIA warps are 32 lanes, so it is now 32"
        plan.span_fixes.append((si - 2, si + 2, new, "warp-size-macro", msg))


def _thread_vars(src: SourceEdit) -> set[str]:
    """Variables computed from threadIdx (lane, tid, warp ids...). A block-stride loop index
    (``i += blockDim.x``) ranges over the data, not over the threads of a warp, so it is not one."""
    found: set[str] = set()
    strided = {src.stext(k - 1) for k in src.where("+=") if src.stext(k + 1) == "blockDim"}
    for eq in src.where("="):
        si = eq - 1
        if si < 1:
            continue
        t = src.stok(si)
        if t.kind == "ident":
            end = src.statement_end(si)
            rhs = {src.stexts[j] for j in range(si + 2, min(end, si + 40))}
            if ("threadIdx" in rhs or rhs & found or "__lane_id" in rhs) and t.text not in strided:
                found.add(t.text)
    return found


def _is_threadish_operand(src: SourceEdit, si: int, tvars: set[str]) -> bool:
    """Is the operand ending at significant index ``si`` a thread/lane quantity?"""
    t = src.stok(si)
    if t is None:
        return False
    if t.kind == "ident":
        if t.text in ("x", "y", "z") and src.stext(si - 1) == ".":
            return src.stext(si - 2) in ("threadIdx", "blockDim")
        return t.text in tvars or bool(_THREADISH.search(t.text))
    if t.text == ")":
        depth, j = 0, si
        while j >= 0:
            tx = src.stext(j)
            depth += 1 if tx == ")" else -1 if tx == "(" else 0
            if depth == 0:
                break
            j -= 1
        inner = {src.stext(k) for k in range(j, si)}
        return bool(inner & ({"threadIdx", "blockDim"} | tvars)) or \
            any(_THREADISH.search(x) for x in inner if x.isidentifier())
    return False


@file_rule()
def _warp_width(ctx: Context) -> None:
    """Literal warp widths (lane arithmetic, shuffle widths and loops, WARP_SIZE macros), fixed together
    or not at all: the fix is applied only when nothing else in the file keeps the old width."""
    src, to = ctx.src, ctx.to
    plan = _WarpPlan()
    _plan_warp_macros(ctx, plan)
    lane_vars = _plan_warp_literals(ctx, plan)
    if not (plan.token_fixes or plan.span_fixes):
        for si, kind, why in plan.conflicts:
            if kind == "shuffle-literal-offset":
                src.hazard(si, kind, "warning", why, span=_statement(src, si))
        return
    _plan_conflicts(ctx, plan, lane_vars)
    direction = "32-lane warp" if to == "hip" else "64-lane wavefront"
    if not plan.conflicts:
        for si, repl, what in plan.token_fixes:
            src.set_token(si, repl)
            src.count("hazard-fixes")
            src.hazard(si, "warp-size-literal", "warning",
                       f"{what} assumed a {direction}; now written in terms of warpSize", fixed=True)
        for start, end, text, kind, msg in plan.span_fixes:
            src.queue_span(start, end, lambda text=text: text)
            src.count("hazard-fixes")
            src.hazard(start + 2 if kind == "warp-size-macro" else start, kind, "warning", msg, fixed=True,
                       span=(start, end))
        return
    lines = sorted({src.line_of(si) for si, _, _ in plan.conflicts})
    where = "line" + ("s " if len(lines) > 1 else " ") + ", ".join(map(str, lines[:6]))
    more = ", ..." if len(lines) > 6 else ""
    for si, _repl, what in plan.token_fixes:
        src.hazard(si, "warp-size-literal", "warning",
                   f"{what} assumes a {direction}; not fixed because a rewrite would leave two warp widths "
                   f"in this file (conflicts at {where}{more}) - rewrite the warp code in terms of warpSize by hand",
                   span=_statement(src, si))
    for start, end, _text, kind, msg in plan.span_fixes:
        src.hazard(start + 2 if kind == "warp-size-macro" else start, kind, "warning",
                   f"{msg.split(';')[0]}; not changed because other warp code in this file keeps the old width "
                   f"(conflicts at {where}{more})", span=(start, end))
    for si, kind, why in plan.conflicts:
        src.hazard(si, kind, "warning", why, span=_statement(src, si))


def _plan_warp_literals(ctx: Context, plan: _WarpPlan) -> set[str]:
    """Sites of lane arithmetic, shuffle widths and shuffle loops; literal shuffle offsets and shifts are
    conflicts. Returns the variables that hold a lane index after the fix."""
    src, to, width = ctx.src, ctx.to, ctx.width
    sig = src.sig
    n = len(sig)
    tvars: set[str] | None = None                        # both found on first need: most files have no
    shared: dict[str, list[int | None]] | None = None   # literal that could be lane arithmetic
    sites: list[tuple[int, str | None, str]] = []   # (si, replacement, description)
    loop_vars: dict[str, list[tuple[int, str]]] = {}
    lane_vars: set[str] = set()
    direction = "32-lane warp" if to == "hip" else "64-lane wavefront"

    interesting = {width.assumed, width.assumed - 1, width.shift}
    for si in _numbers_valued(src, interesting):
        literal = src.stexts[si]
        if si < 2 or si + 1 >= n:
            continue
        value = _int_value(literal)
        if value not in interesting:
            continue
        op = src.stexts[si - 1]
        if op not in (("%", "/") if value == width.assumed else ("&", "+") if value == width.assumed - 1 else (">>",)):
            continue  # no rule below takes this value with this operator (asked before the syntax tree)
        if not src.functions.in_device_code(src.line_of(si)) and src.functions.spans:
            continue
        if shared is None:
            shared = _shared_extents(src)
        if _is_tile_arithmetic(src, si, shared):
            continue  # indexes a shared tile: nothing to do with lanes
        if tvars is None:
            tvars = _thread_vars(src)
        if value == width.assumed and op in ("%", "/") and _is_threadish_operand(src, si - 2, tvars):
            if op == "/" and src.stext(si - 2) == "x" and src.stext(si - 4) == "blockDim" and \
                    src.stext(si - 5) != "+" and src.stext(si + 1) != ")":
                # warps in a block: round up, or blocks of 96 or 160 threads lose their last wavefront
                plan.span_fixes.append((si - 4, si + 1, "((blockDim.x + warpSize - 1) / warpSize)",
                                        "warp-size-literal",
                                        f"'blockDim.x / {literal}' counted {direction}s in a block; now rounded "
                                        "up in terms of warpSize, so a partial wavefront is counted"))
                continue
            sites.append((si, "warpSize", f"'{op} {literal}'"))
            if op == "%":
                lane_vars |= _assigned_var(src, si)
        elif value == width.assumed - 1 and op == "&" and _is_threadish_operand(src, si - 2, tvars):
            sites.append((si, "(warpSize - 1)", f"'& {literal}'"))
            lane_vars |= _assigned_var(src, si)
        elif value == width.assumed - 1 and op == "+" and src.stext(si + 1) == ")" and \
                src.stext(si + 2) == "/" and _int_value(src.stext(si + 3)) == width.assumed and \
                _is_threadish_operand(src, si + 1, tvars):
            sites.append((si, "(warpSize - 1)", f"'+ {literal}' (round up to warps)"))
            sites.append((si + 3, "warpSize", f"'/ {width.assumed}'"))
        elif value == width.shift and op == ">>" and _is_threadish_operand(src, si - 2, tvars):
            plan.conflicts.append((si, "shuffle-literal-offset",
                                   f"'>> {literal}' divides by the {direction} width with a shift; it has no "
                                   "spelling in terms of warpSize - write it as '/ warpSize'"))
    for si in src.where("for"):
        if src.stext(si + 1) == "(":
            _shuffle_loop(src, si + 1, width, loop_vars)

    # Shuffle calls: literal widths and literal offsets.
    for si in src.where_any(_SHUFFLES):
        t = src.stok(si)
        if src.stext(si + 1) != "(":
            continue
        close = src.match_close(si + 1)
        if close < 0:
            continue
        args = src.split_args(si + 1, close)
        if t.text.endswith("_sync"):
            args = args[1:]
        if len(args) >= 3 and args[2][1] - args[2][0] == 1:
            w = _int_value(src.stext(args[2][0]))
            if w == width.assumed:
                sites.append((args[2][0], "warpSize", f"shuffle width {width.assumed}"))
        if len(args) >= 2 and t.text not in ("__shfl", "__shfl_sync"):
            offset = args[1]
            if offset[1] - offset[0] == 1:
                tok = src.stok(offset[0])
                if tok.kind == "number":
                    plan.conflicts.append((si, "shuffle-literal-offset",
                                           f"shuffle with a literal offset tied to a {direction}; unrolled "
                                           f"reductions need {'one more step' if to == 'hip' else 'one step fewer'}"
                                           " on the target"))
                elif tok.kind == "ident" and tok.text in loop_vars:
                    for loop_si, repl in loop_vars[tok.text]:
                        sites.append((loop_si, repl, "shuffle loop bound"))
    seen: set[int] = set()
    for s in sites:
        if s[0] not in seen and s[1] is not None:
            seen.add(s[0])
            plan.token_fixes.append(s)
    return lane_vars


def _assigned_var(src: SourceEdit, si: int) -> set[str]:
    """``int lane = threadIdx.x % 32;``: the variable assigned by the statement holding ``si``."""
    start = src.statement_start(si)
    for k in range(start, si):
        if src.stext(k) == "=" and src.stok(k - 1).kind == "ident":
            return {src.stext(k - 1)}
    return set()


def _shared_extents(src: SourceEdit) -> dict[str, list[int | None]]:
    """``__shared__ T name[E1][E2]`` -> {name: [E1, E2]} (None where an extent is not a literal)."""
    found: dict[str, list[int | None]] = {}
    for si in src.where("__shared__"):
        end = src.statement_end(si)
        j = si
        while j < end:
            if src.stext(j) == "[" and src.stok(j - 1).kind == "ident":
                name = src.stext(j - 1)
                dims: list[int | None] = []
                while src.stext(j) == "[":
                    close = src.match_close(j)
                    if close < 0:
                        break
                    dims.append(_int_value(src.stext(j + 1)) if close == j + 2 else None)
                    j = close + 1
                found[name] = dims
                break
            j += 1
    return found


def _subscript_of(src: SourceEdit, si: int) -> tuple[str, int] | None:
    """When ``si`` sits directly in a subscript ``a[...][...]``: (array name, dimension)."""
    depth = 0
    j = si - 1
    while j >= 0:
        text = src.stext(j)
        if text in (")", "]"):
            depth += 1
        elif text in ("(", "["):
            if depth == 0:
                if text == "(":
                    return None
                break
            depth -= 1
        elif text in (";", "{", "}") and depth == 0:
            return None
        j -= 1
    if j < 0:
        return None
    dim = 0
    k = j - 1
    while src.stext(k) == "]":
        depth = 0
        while k >= 0:
            tx = src.stext(k)
            depth += 1 if tx == "]" else -1 if tx == "[" else 0
            if depth == 0:
                break
            k -= 1
        k -= 1
        dim += 1
    tok = src.stok(k)
    return (tok.text, dim) if tok is not None and tok.kind == "ident" else None


def _is_tile_arithmetic(src: SourceEdit, si: int, shared: dict[str, list[int | None]]) -> bool:
    """``tile[si / 32][si % 32]``, or ``c = si % 32`` where ``c`` only ever indexes two-dimensional shared
    arrays: the 32 is a tile edge, not a warp width. (A one-dimensional ``s[warp]`` is per-warp storage.)"""
    tiles = {name for name, dims in shared.items() if len(dims) >= 2}
    sub = _subscript_of(src, si)
    if sub is not None and sub[0] in tiles:
        return True
    var = _assigned_var(src, si)
    if not var:
        return False
    name = next(iter(var))
    fn = src.functions.at(src.line_of(si))
    lo, hi = (fn.start_line, fn.end_line) if fn else (1, 1 << 30)
    uses = [k for k in src.where(name) if lo <= src.line_of(k) <= hi and src.stext(k + 1) != "="]
    uses = [k for k in uses if src.statement_start(k) != src.statement_start(si)]
    return bool(uses) and all((_subscript_of(src, k) or ("", 0))[0] in tiles for k in uses)


def _plan_conflicts(ctx: Context, plan: _WarpPlan, lane_vars: set[str]) -> None:
    """What would still assume the old width after the fix: tiles, lane-indexed shared arrays of the old
    width, and launches whose block size is not a whole number of the target's wavefronts."""
    src, to, width = ctx.src, ctx.to, ctx.width
    for si in src.where("tiled_partition", "thread_block_tile"):
        if src.stext(si + 1) == "<" and _int_value(src.stext(si + 2)) == width.assumed:
            plan.conflicts.append((si, "warp-width-conflict",
                                   f"a {width.assumed}-thread tile keeps the old width next to code rewritten "
                                   "to warpSize; use one width for both"))
    shared = _shared_extents(src)
    for name in lane_vars:
        for k in src.where(name):
            sub = _subscript_of(src, k)
            if sub and sub[0] in shared and sub[1] < len(shared[sub[0]]) and \
                    shared[sub[0]][sub[1]] == width.assumed and not _bounded_before(src, k, name):
                plan.conflicts.append((k, "warp-width-conflict",
                                       f"shared array '{sub[0]}' has {width.assumed} entries but is indexed by "
                                       f"'{name}', a lane that reaches warpSize - 1 after the fix"))
    if to == "hip":
        shuffling = _functions_with_shuffles(src)
        for kernel, block, si in _launch_block_sizes(src):
            if kernel in shuffling and block % 64:
                plan.conflicts.append((si, "warp-width-conflict",
                                       f"'{kernel}' is launched with {block} threads, not a whole number of "
                                       "64-lane wavefronts; its shuffles would read lanes that do not exist"))


def _bounded_before(src: SourceEdit, k: int, name: str) -> bool:
    """``lane < n ? s[lane] : 0`` or ``if (lane < n) ... s[lane]``: the index is compared with a bound first."""
    start = max(0, src.statement_start(k) - 12)
    return any(src.stext(j) == name and src.stext(j + 1) in ("<", "<=") for j in range(start, k))


def _functions_with_shuffles(src: SourceEdit) -> set[str]:
    """Functions that shuffle, directly or through a function of this file that does."""
    fns = src.functions.spans
    direct: set[str] = set()
    calls: dict[str, set[str]] = {}
    names = {f.name for f in fns}
    for f in fns:
        calls.setdefault(f.name, set())
    for si in src.where_any(_SHUFFLES | names):   # only these tokens can add anything below
        if src.skinds[si] != "ident":
            continue
        fn = src.functions.at(src.line_of(si))
        if fn is None:
            continue
        text = src.stexts[si]
        if text in _SHUFFLES:
            direct.add(fn.name)
        elif text in names and text != fn.name and src.stext(si + 1) in ("(", "<"):
            calls[fn.name].add(text)
    found = set(direct)
    changed = True
    while changed:
        changed = False
        for caller, callees in calls.items():
            if caller not in found and callees & found:
                found.add(caller)
                changed = True
    return found


def _constant_values(src: SourceEdit) -> dict[str, int]:
    """``#define N 96``, ``constexpr int N = 96;``, ``dim3 block(96)``: name -> value."""
    values: dict[str, int] = {}
    for d in src.where("define"):
        name, value = src.stext(d + 1), _int_value(src.stext(d + 2))
        if value is not None and src.stok(d + 2).directive:
            values[name] = value
    for eq in src.where("="):
        if src.stext(eq + 2) == ";" and src.stok(eq - 1).kind == "ident":
            value = _int_value(src.stext(eq + 1))
            if value is not None and src.stext(src.statement_start(eq)) in ("const", "constexpr", "static"):
                values[src.stext(eq - 1)] = value
    for d in src.where("dim3"):
        if src.stok(d + 1).kind == "ident" and src.stext(d + 2) in ("(", "{"):
            close = src.match_close(d + 2)
            value = _int_value(src.stext(d + 3))
            if close == d + 4 and value is not None:
                values[src.stext(d + 1)] = value
    return values


def _launch_block_sizes(src: SourceEdit) -> list[tuple[str, int, int]]:
    """(kernel, threads per block, where) for launches whose block size is a known constant."""
    values = _constant_values(src)
    found = []
    for si in src.where("<<<"):
        k = si - 1
        if src.stext(k) in (">", ">>"):      # kernel<T, 4><<<...>>>: skip back over the template arguments
            depth = 0
            while k >= 0:
                tx = src.stext(k)
                depth += 2 if tx == ">>" else 1 if tx == ">" else -1 if tx == "<" else 0
                if depth == 0:
                    break
                k -= 1
            k -= 1
        kernel = src.stext(k)
        end = next((j for j in range(si + 1, min(si + 200, len(src.sig))) if src.stext(j) == ">>>"), -1)
        if end < 0:
            continue
        args = src.split_args(si, end)
        if len(args) < 2 or args[1][1] - args[1][0] != 1:
            continue
        text = src.stext(args[1][0])
        block = _int_value(text) if _int_value(text) is not None else values.get(text)
        if block is not None:
            found.append((kernel, block, args[1][0]))
    return found


def _shuffle_loop(src: SourceEdit, open_si: int, width: _Width, loop_vars: dict[str, list[tuple[int, str]]]) -> None:
    """Recognise ``for (int o = 16; o > 0; o >>= 1)`` and ``for (int o = 1; o < 32; o *= 2)``."""
    close = src.match_close(open_si)
    if close < 0:
        return
    parts = []
    start = open_si + 1
    for j in range(open_si + 1, close):
        if src.stext(j) == ";":
            parts.append((start, j))
            start = j + 1
    if len(parts) != 2:
        return
    init, cond = parts
    init_text = [src.stext(j) for j in range(*init)]
    cond_text = [src.stext(j) for j in range(*cond)]
    if "=" not in init_text:
        return
    var = init_text[init_text.index("=") - 1]
    init_value_si = init[0] + init_text.index("=") + 1
    if init_value_si != init[1] - 1:
        return
    value = _int_value(src.stext(init_value_si))
    half = width.assumed // 2
    if value == half and len(cond_text) >= 3 and cond_text[0] == var and cond_text[1] in (">", ">=", "!="):
        loop_vars.setdefault(var, []).append((init_value_si, "(warpSize / 2)"))
    elif value == 1 and len(cond_text) == 3 and cond_text[0] == var and cond_text[1] in ("<", "<=") and \
            _int_value(cond_text[2]) in (width.assumed, half):
        bound_si = cond[0] + 2
        repl = "warpSize" if _int_value(cond_text[2]) == width.assumed else "(warpSize / 2)"
        loop_vars.setdefault(var, []).append((bound_si, repl))


@file_rule("cuda")
def _wide_shuffle_widths(ctx: Context) -> None:
    """HIP shuffles with width 64 (or warpSize meant as 64) cannot span 64 lanes on a 32-lane warp."""
    src = ctx.src
    for si in src.where_any(_SHUFFLES):
        t = src.stok(si)
        if src.stext(si + 1) != "(":
            continue
        close = src.match_close(si + 1)
        args = src.split_args(si + 1, close) if close > 0 else []
        if t.text.endswith("_sync"):
            args = args[1:]
        if len(args) >= 3 and args[2][1] - args[2][0] == 1 and src.stext(args[2][0]) == "__AMDGCN_WAVEFRONT_SIZE":
            src.set_token(args[2][0], "warpSize")
            src.hazard(args[2][0], "shuffle-width", "info",
                       "shuffle width __AMDGCN_WAVEFRONT_SIZE is warpSize on NVIDIA", fixed=True)


@file_rule()
def _shared_arrays(ctx: Context) -> None:
    """``__shared__ T s[N / warpSize]`` and friends: size for the smallest wavefront (32 lanes)."""
    src, to = ctx.src, ctx.to
    for si in src.where("__shared__"):
        end = src.statement_end(si)
        j = si
        while j < end:
            if src.stext(j) == "[":
                close = src.match_close(j)
                if close < 0:
                    break
                for k in range(j + 1, close):
                    text = src.stext(k)
                    if text in ("warpSize", "__AMDGCN_WAVEFRONT_SIZE"):
                        src.set_token(k, "32")
                        src.count("hazard-fixes")
                        src.hazard(k, "shared-warp-count", "warning",
                                   f"shared array sized with {text}, which is not a constant on every "
                                   "target; sized for the smallest wavefront (32 lanes), which is enough "
                                   "for 64-lane wavefronts too", fixed=True, span=(si, end))
                    elif to == "cuda" and _int_value(text) == 64 and src.stext(k - 1) == "/":
                        src.set_token(k, "32")
                        src.count("hazard-fixes")
                        src.hazard(k, "shared-warp-count", "warning",
                                   "shared array sized per 64-lane wavefront; NVIDIA has twice as many "
                                   "32-lane warps per block, so it is now sized per 32 lanes",
                                   fixed=True, span=(si, end))
                j = close + 1
            else:
                j += 1


# --------------------------------------------------------------------------- ballot width (CUDA -> HIP)


@file_rule("hip")
def _ballot_width(ctx: Context) -> None:
    """Ballot results are 64-bit on AMD: widen 32-bit holders, use the 64-bit bit intrinsics on them,
    and widen all-ones masks compared or combined with them."""
    src, tables = ctx.src, ctx.tables
    ballot_vars: set[str] = set()
    for si in src.where_any(_BALLOTS):
        t = src.stok(si)
        if src.stext(si + 1) != "(":
            continue
        start = src.statement_start(si)
        names = [src.stext(j) for j in range(start, si)]
        if "=" in names:
            eq = start + names.index("=")
            var_si = eq - 1
            var = src.stext(var_si)
            type_start = var_si
            while type_start - 1 >= start and src.stext(type_start - 1) in ("unsigned", "int", "uint32_t",
                                                                             "uint", "long", "const", "int32_t"):
                type_start -= 1
            type_words = " ".join(src.stext(j) for j in range(type_start, var_si) if src.stext(j) != "const")
            if src.stok(var_si).kind == "ident":
                ballot_vars.add(var)
                if type_words in _NARROW_TYPES:
                    first = type_start
                    while src.stext(first) == "const":
                        first += 1
                    last = var_si
                    src.queue_span(first, last, lambda: "unsigned long long")
                    src.count("hazard-fixes")
                    src.hazard(var_si, "ballot-width", "warning",
                               f"'{type_words} {var}' holds a ballot result, which has 64 bits on AMD; "
                               "widened to unsigned long long", fixed=True, span=(start, src.statement_end(si)))
    for si in src.where_any(tables.wide_bit_intrinsics) if ballot_vars or src.where_any(_BALLOTS) else []:
        t = src.stok(si)
        if src.stext(si + 1) != "(":
            continue
        wide = tables.wide_bit_intrinsics[t.text]
        close = src.match_close(si + 1)
        inner = {src.stext(j) for j in range(si + 2, close)} if close > 0 else set()
        if inner & (ballot_vars | _BALLOTS):
            src.set_token(si, wide)
            src.count("hazard-fixes")
            src.hazard(si, "popc-ballot", "warning",
                       f"{t.text} on a ballot result counts only 32 of AMD's 64 lanes; now {wide}", fixed=True)
    # all-ones 32-bit masks next to ballot results
    for si in _numbers_valued(src, {0xFFFFFFFF}):
        t = src.stok(si)
        if _int_value(t.text) != 0xFFFFFFFF:
            continue
        if src.stext(si - 1) == "(" and src.stext(si - 2).endswith("_sync"):
            continue  # a mask argument: it disappears when the call is lowered
        if src.stext(si + 1) in ("<<", ">>"):
            continue  # a shifted lane mask: _lane_mask_shifts decides, since the count matters too
        start, end = src.statement_start(si), src.statement_end(si)
        words = {src.stext(j) for j in range(start, end)}
        if words & (ballot_vars | _BALLOTS):
            src.set_token(si, FULL_MASK_64)
            src.count("hazard-fixes")
            src.hazard(si, "lane-mask-32bit", "warning",
                       f"32-bit all-lanes mask '{t.text}' used with a ballot result; AMD wavefronts have "
                       "64 lanes, so it is now the 64-bit mask", fixed=True)


# --------------------------------------------------------------------------- shifted lane masks (CUDA -> HIP)

# Ways to read the lane of a thread: threadIdx.x % W or threadIdx.x & (W - 1), W a warp width.
_LANE_NAME = re.compile(r"(?i)^\w*lane\w*$")
# Tokens after which a literal is a whole shift operand (C binds << tighter than these, looser than + - *).
_OPERAND_START = frozenset({"(", "=", ",", "return", "|", "&", "^", "|=", "&=", "^=", "?", ":", "{", "&&", "||",
                            "!", "==", "!="})
# Declared types of a mask variable: widened to 64 bits, or already wide enough.
_NARROW_MASK_TYPES = frozenset({"unsigned", "unsigned int", "uint32_t", "uint"})
_WIDE_MASK_TYPES = frozenset({"auto", "unsigned long long", "unsigned long long int", "uint64_t", "unsigned long",
                              "size_t", "long long", "const auto"})
_MASK_TYPE_WORDS = frozenset({"unsigned", "int", "long", "uint32_t", "uint", "uint64_t", "size_t", "auto", "const"})


def _is_warp_width(src: SourceEdit, si: int) -> bool:
    text = src.stext(si)
    return _int_value(text) == 32 or text == "warpSize" or bool(WARP_MACRO.match(text))


def _is_warp_width_minus_one(src: SourceEdit, si: int) -> bool:
    """``31``, ``0x1f`` or ``(W - 1)`` starting at ``si``."""
    if _int_value(src.stext(si)) == 31:
        return True
    return src.stext(si) == "(" and _is_warp_width(src, si + 1) and src.stext(si + 2) == "-" and \
        _int_value(src.stext(si + 3)) == 1 and src.stext(si + 4) == ")"


def _is_lane_index(src: SourceEdit, start: int, end: int, lane_vars: set[str]) -> bool:
    """Does ``[start, end)`` compute a lane: threadIdx.x % W, threadIdx.x & (W - 1), a lane variable?"""
    for k in range(start, end):
        text = src.stext(k)
        if text in lane_vars or text == "__lane_id":
            return True
        if text == "threadIdx" and src.stext(k + 1) == "." and src.stext(k + 2) == "x":
            op = src.stext(k + 3)
            if op == "%" and _is_warp_width(src, k + 4) or op == "&" and _is_warp_width_minus_one(src, k + 4):
                return True
    return False


def _lane_index_vars(src: SourceEdit) -> set[str]:
    """Variables holding a lane: computed as one, or named like one (lane, laneid) and taken from threadIdx."""
    found: set[str] = set()
    for eq in src.where("="):
        if src.skind(eq - 1) != "ident":
            continue
        name = src.stext(eq - 1)
        end = src.statement_end(eq)
        rhs = {src.stext(k) for k in range(eq + 1, end)}
        if _is_lane_index(src, eq + 1, end, found) or \
                _LANE_NAME.match(name) and "threadIdx" in rhs and rhs & {"%", "&"}:
            found.add(name)
    return found


def _ballots_by_function(src: SourceEdit) -> dict[int, set[str]]:
    """Function (by first line; 0 outside any) -> names assigned from a ballot in it. A function is a key
    only when it takes a ballot, which the translator widens to 64 bits."""
    found: dict[int, set[str]] = {}
    for si in src.where_any(_BALLOTS):
        if src.stext(si + 1) != "(":
            continue
        fn = src.functions.at(src.line_of(si))
        names = found.setdefault(fn.start_line if fn else 0, set())
        start = src.statement_start(si)
        for k in range(si - 1, start, -1):
            if src.stext(k) in ("=", "|=", "&=", "^=") and src.stok(k - 1).kind == "ident":
                names.add(src.stext(k - 1))
                break
    return found


def _shift_literal(src: SourceEdit, op_si: int) -> tuple[int, str] | None:
    """The 32-bit literal shifted at ``op_si``: (first significant index, "one" | "all"), else None."""
    lit = op_si - 1
    text = src.stext(lit)
    if src.skind(lit) != "number" or "l" in text.lower():
        return None  # not a literal, or already long (64 bits on the LP64 hosts HIP targets)
    value = _int_value(text)
    first, what = lit, None
    if src.stext(lit - 1) == "~" and value == 0:
        first, what = lit - 1, "all"
    elif value == 1:
        what = "one"
    elif value == 0xFFFFFFFF:
        what = "all"
    if what is None or src.stext(first - 1) not in _OPERAND_START:
        return None
    return first, what


def _shift_count(src: SourceEdit, op_si: int) -> tuple[int, int] | None:
    """Span of the shift count after ``op_si`` when it is a variable or a parenthesized expression."""
    kind = src.skind(op_si + 1)
    if not kind:
        return None
    nxt = src.stext(op_si + 1)
    if nxt == "(":
        close = src.match_close(op_si + 1)
        return (op_si + 1, close + 1) if close > 0 else None
    if kind != "ident":
        return None
    if nxt == "threadIdx" and src.stext(op_si + 2) == ".":
        return op_si + 1, op_si + 4
    return op_si + 1, op_si + 2


def _mask_variable(src: SourceEdit, si: int) -> tuple[int, int, str] | None:
    """``T var = ... <shift> ...;``: (first type index, variable index, type words); no type: first == var."""
    start = _whole_statement(src, si)[0]
    for k in range(si - 1, start, -1):
        if src.stext(k) == "=" and src.stok(k - 1).kind == "ident":
            var_si = k - 1
            first = var_si
            while first - 1 >= start and src.stext(first - 1) in _MASK_TYPE_WORDS:
                first -= 1
            words = " ".join(src.stext(j) for j in range(first, var_si))
            return first, var_si, words
    return None


def _whole_statement(src: SourceEdit, si: int) -> tuple[int, int]:
    """The statement around ``si`` past any brackets it sits in (``statement_start`` stops at them)."""
    texts, directive = src.stexts, src.sdirective
    if directive[si]:
        return src.statement_start(si), src.statement_end(si)
    depth = 0
    start = 0
    for j in range(si - 1, -1, -1):
        if directive[j]:
            start = j + 1
            break
        text = texts[j]
        if text in (")", "]"):
            depth += 1
        elif text in ("(", "["):
            depth -= 1
        elif text in (";", "{", "}") and depth <= 0:
            start = j + 1
            break
    depth = 0
    end = len(texts)
    for j in range(si, len(texts)):
        if directive[j]:
            end = j
            break
        text = texts[j]
        if text in ("(", "["):
            depth += 1
        elif text in (")", "]"):
            depth -= 1
        elif text == ";" and depth <= 0:
            end = j + 1
            break
        elif text in ("{", "}") and depth <= 0:
            end = j
            break
    return start, end


@file_rule("hip")
def _lane_mask_shifts(ctx: Context) -> None:
    """``1u << lane``, ``(1u << lane) - 1``, ``~0u << lane``, ``0xffffffffu >> (32 - n)``: 32-bit lane masks.

    On a 64-lane wavefront they lose lanes 32..63 (shifting by 32 or more is undefined). Where the mask
    meets a ballot result, which the translator widens to 64 bits, the literal is widened too; a variable
    holding the mask is widened when every use of it is next to a ballot value. Everything else that
    shifts by a lane index is reported.
    """
    src = ctx.src
    ballots = _ballots_by_function(src)
    # Without a ballot in the file a mask can meet none, so only a shift by a lane index is reported; that
    # is asked before the syntax tree (most files shift literals by other things).
    no_ballots = not src.where_any(_BALLOTS)
    lane_vars: set[str] | None = None    # found on first need (a shift of a 32-bit literal by a variable)
    widened_vars: set[int] = set()
    for op_si in src.where("<<", ">>"):
        literal = _shift_literal(src, op_si)
        count = _shift_count(src, op_si)
        if literal is None or count is None:
            continue
        first, what = literal
        shift = src.stext(op_si)
        if shift == ">>" and what == "one":
            continue
        if no_ballots:
            if lane_vars is None:
                lane_vars = _lane_index_vars(src)
            if not _is_lane_index(src, count[0], count[1], lane_vars):
                continue
        line = src.line_of(op_si)   # the syntax tree is asked last: most shifts are not of a literal
        if src.functions.spans and not src.functions.in_device_code(line):
            continue
        fn = src.functions.at(line)
        fn_key = fn.start_line if fn else 0
        fn_lines = (fn.start_line, fn.end_line) if fn else (1, src.line_of(len(src.sig) - 1))
        ballot_names = ballots.get(fn_key, set()) | _BALLOTS
        start, end = _whole_statement(src, op_si)

        def meets_ballot(s: int, e: int, names=ballot_names) -> bool:
            return any(src.stext(k) in names for k in range(s, e))

        direct = meets_ballot(start, end)
        var = _mask_variable(src, op_si)
        via_var = False
        var_reason = ""
        if var is not None:
            var_first, var_si, type_words = var
            name = src.stext(var_si)
            uses = [k for k in src.where(name) if k != var_si and fn_lines[0] <= src.line_of(k) <= fn_lines[1]]
            away = [k for k in uses if not meets_ballot(*_whole_statement(src, k))]
            via_var = bool(uses) and not away and name not in ballots.get(fn_key, set())
            if via_var and var_first == var_si:
                via_var, var_reason = False, f"'{name}' is declared elsewhere"
            elif via_var and type_words not in _NARROW_MASK_TYPES | _WIDE_MASK_TYPES:
                via_var, var_reason = False, f"'{name}' is declared '{type_words}'"
            elif away:
                var_reason = f"'{name}' is also used away from the ballot (line {src.line_of(away[0])})"
        if lane_vars is None:
            lane_vars = _lane_index_vars(src)
        lane_count = _is_lane_index(src, count[0], count[1], lane_vars)
        if not (direct or via_var or lane_count):
            continue  # an ordinary bit trick: nothing ties it to lanes

        count_ok = True
        width_si = -1
        if shift == ">>":
            # all-ones >> (W - n) keeps n lanes; only that form has a 64-lane spelling: ~0ull >> (warpSize - n)
            c0 = count[0]
            count_ok = src.stext(c0) == "(" and _is_warp_width(src, c0 + 1) and src.stext(c0 + 2) == "-"
            width_si = c0 + 1 if count_ok and _int_value(src.stext(c0 + 1)) == 32 else -1
        expr = src.src_text(first, count[1])
        fix = fn_key in ballots and (direct or via_var) and count_ok
        span = (start, end)
        if fix:
            wide = "1ull" if what == "one" else "0ull" if src.stext(first) == "~" else "~0ull"
            src.set_token(op_si - 1, wide)
            if width_si >= 0:
                src.set_token(width_si, "warpSize")
            widened = f"'{'~' if src.stext(first) == '~' else ''}{wide}'"
            if via_var and type_words in _NARROW_MASK_TYPES and var_si not in widened_vars:
                widened_vars.add(var_si)
                src.queue_span(var_first, var_si, lambda: "unsigned long long")
                widened += f" and '{src.stext(var_si)}' to unsigned long long"
                span = (var_first, end)
            src.count("hazard-fixes")
            src.hazard(op_si - 1, "lane-mask-shift", "warning",
                       f"'{expr}' builds a 32-bit lane mask used with a ballot result, which has 64 bits on "
                       f"AMD; lanes 32..63 fell off (a shift by 32 or more is undefined), so it is now "
                       f"{widened}{' with warpSize as the width' if width_si >= 0 else ''}",
                       fixed=True, span=span)
            continue
        wider = "use a 64-bit mask (1ull, ~0ull) and a 64-bit place to keep it"
        if fn_key not in ballots:
            why = f"no ballot in this function ties it to a 64-bit value; {wider}"
        elif not count_ok:
            why = "the shift count sets the mask width; write it as ~0ull >> (warpSize - n)"
        else:
            why = f"{var_reason or 'the rules cannot follow where the mask goes'}; {wider}"
        src.hazard(op_si - 1, "lane-mask-shift", "warning",
                   f"'{expr}' builds a 32-bit lane mask; on a 64-lane AMD wavefront lanes 32..63 shift "
                   f"past 32 bits (undefined); not fixed: {why}", span=span)


@file_rule("cuda")
def _mask_literals_to_cuda(ctx: Context) -> None:
    """64-bit all-lanes masks compared with ballot results become the 32-lane mask on NVIDIA."""
    src = ctx.src
    for si in _numbers_valued(src, {0xFFFFFFFFFFFFFFFF}):
        t = src.stok(si)
        if _int_value(t.text) != 0xFFFFFFFFFFFFFFFF:
            continue
        start, end = src.statement_start(si), src.statement_end(si)
        words = {src.stext(j) for j in range(start, end)}
        if words & _BALLOTS or src.stext(si - 2) in _SHUFFLES:
            continue  # handled where the call is rewritten
        if any("mask" in w.lower() or "ballot" in w.lower() for w in words if w.isidentifier()):
            src.set_token(si, FULL_MASK_32)
            src.count("hazard-fixes")
            src.hazard(si, "lane-mask-64bit", "warning",
                       f"64-bit all-lanes mask '{t.text}' assumes a 64-lane wavefront; now the 32-lane mask",
                       fixed=True)


# --------------------------------------------------------------------------- vendor-only features


def _statement(src: SourceEdit, si: int) -> tuple[int, int]:
    return src.statement_start(si), src.statement_end(si)


def _no_counterpart_device(ctx: Context) -> frozenset[str]:
    return ctx.tables.no_counterpart_in("device", ctx.to)


@token_rule("hip", includes=True)
def _unsupported_header(ctx: Context, si: int) -> bool:
    text = ctx.src.stext(si)
    if "mma.h" in text or "cuda_pipeline" in text:
        ctx.src.hazard(si, "unsupported-header", "error",
                       f"{text.strip()} has no HIP counterpart; the code using it needs a rewrite")
    return True


@token_rule(spellings={"<<<"})
def _device_side_launch(ctx: Context, si: int) -> bool:
    src = ctx.src
    if src.in_device_code(src.line_of(si)):
        src.hazard(si, "dynamic-parallelism", "error",
                   f"kernel launched from device code (dynamic parallelism): "
                   f"{'HIP' if ctx.to == 'hip' else 'the target'} has no device-side launch; restructure as "
                   "host-side launches", span=_statement(src, si))
    return True


@token_rule(spellings=_ASM)
def _inline_asm(ctx: Context, si: int) -> bool:
    src = ctx.src
    nxt = src.stext(si + 1)
    if not (nxt == "(" or nxt in ("volatile", "__volatile__")) or src.stext(si + 2).startswith('"llvm.'):
        return False   # an asm label naming an LLVM intrinsic is a declaration, not assembly
    what = "inline PTX assembly" if ctx.to == "hip" else "inline GCN assembly"
    src.hazard(si, "inline-asm", "error",
               f"{what} cannot be translated by rules; rewrite it with portable intrinsics",
               span=(si, src.statement_end(si)))
    return True


@token_rule(dynamic=_no_counterpart_device)
def _no_counterpart_intrinsic(ctx: Context, si: int) -> bool:
    src = ctx.src
    if src.stext(si + 1) != "(":
        return False
    text = src.stext(si)
    src.hazard(si, "ptx-intrinsic" if ctx.to == "hip" else "amd-intrinsic", "error",
               f"{text} has no {'HIP' if ctx.to == 'hip' else 'CUDA'} counterpart; rewrite this call",
               span=_statement(src, si))
    return True


@token_rule("cuda", prefixes=("__builtin_amdgcn_", "__ockl_", "__ocml_"))
def _amd_builtin(ctx: Context, si: int) -> bool:
    text = ctx.src.stext(si)
    if text == "__builtin_amdgcn_wave_barrier":
        return False
    ctx.src.hazard(si, "amd-intrinsic", "error", f"{text} is an AMD GPU builtin; rewrite this call",
                   span=_statement(ctx.src, si))
    return True


@token_rule(spellings=_WMMA_NAMES)
def _wmma(ctx: Context, si: int) -> bool:
    if not ctx.once("wmma", si):
        return False
    if ctx.to == "hip":
        ctx.src.hazard(si, "wmma", "error",
                       "warp matrix (wmma/mma) code: port it to rocWMMA (rocwmma::fragment, "
                       "rocwmma::mma_sync) or MFMA builtins; fragment shapes differ on AMD",
                       span=_statement(ctx.src, si))
    return True


@token_rule("cuda", spellings={"rocwmma"})
def _rocwmma(ctx: Context, si: int) -> bool:
    if not ctx.once("wmma", si):
        return False
    ctx.src.hazard(si, "wmma", "error", "rocWMMA code: port it to nvcuda::wmma by hand", span=_statement(ctx.src, si))
    return True


@token_rule(spellings={"this_grid", "grid_group", "this_multi_grid", "multi_grid_group"})
def _grid_sync(ctx: Context, si: int) -> bool:
    if not ctx.once("cg-grid", si):
        return False
    ctx.src.hazard(si, "cooperative-grid-sync", "error",
                   "grid-wide cooperative groups need a cooperative launch "
                   f"({'hipLaunchCooperativeKernel' if ctx.to == 'hip' else 'cudaLaunchCooperativeKernel'}) "
                   "and a grid small enough to be resident; check the launch site", span=_statement(ctx.src, si))
    return True


@token_rule(spellings={"tiled_partition", "thread_block_tile"})
def _tile_size(ctx: Context, si: int) -> bool:
    src = ctx.src
    if src.stext(si + 1) != "<" or not ctx.once("tile", si):
        return False
    size = _int_value(src.stext(si + 2))
    if ctx.to == "hip" and size == 32:
        src.hazard(si, "cooperative-groups", "warning",
                   "a 32-thread tile is half an AMD wavefront: tile shuffles/ballots work but a "
                   "tile is no longer a whole warp; check code that assumes it is", span=_statement(src, si))
    elif ctx.to == "cuda" and size == 64:
        src.hazard(si, "cooperative-groups", "error", "tiles larger than 32 threads are not supported on NVIDIA",
                   span=_statement(src, si))
    return True


@token_rule(spellings={"texture", "surface"})
def _texture_reference(ctx: Context, si: int) -> bool:
    src = ctx.src
    if src.stext(si + 1) != "<":
        return False
    src.hazard(si, "texture-reference", "error",
               f"{src.stext(si)} references are removed from current CUDA and HIP; use "
               f"{'hipTextureObject_t' if ctx.to == 'hip' else 'cudaTextureObject_t'} objects",
               span=_statement(src, si))
    return True


@token_rule(spellings=_TEXTURE_FETCH | _SURFACE_CALLS)
def _texture_access(ctx: Context, si: int) -> bool:
    src = ctx.src
    if src.stext(si + 1) not in ("(", "<") or not ctx.once("tex", si):
        return False
    src.hazard(si, "texture", "warning",
               f"{src.stext(si)}: texture/surface access is supported through objects on both vendors (not on "
               "gfx94x, which has no image instructions), but filtering, addressing and normalized-coordinate "
               "behaviour must be checked", span=_statement(src, si))
    return True


@token_rule(spellings={"cudaFuncSetAttribute", "hipFuncSetAttribute"})
def _dynamic_shared_opt_in(ctx: Context, si: int) -> bool:
    src = ctx.src
    if src.stext(si + 1) != "(":
        return False
    close = src.match_close(si + 1)
    inner = {src.stext(j) for j in range(si + 2, close)} if close > 0 else set()
    if inner & {"cudaFuncAttributeMaxDynamicSharedMemorySize", "hipFuncAttributeMaxDynamicSharedMemorySize"}:
        if ctx.to == "hip":
            src.hazard(si, "large-dynamic-shared", "warning",
                       "opting a kernel into more dynamic shared memory: AMD gfx9 LDS is 64 KiB per "
                       "workgroup (no opt-in beyond it); check the requested size fits the target",
                       span=(si, close + 1))
        else:
            src.hazard(si, "large-dynamic-shared", "info",
                       "dynamic shared memory above 48 KiB needs this attribute call on NVIDIA", span=(si, close + 1))
    return True


@token_rule(spellings={"cudaDeviceSynchronize", "hipDeviceSynchronize"})
def _device_side_synchronize(ctx: Context, si: int) -> bool:
    src = ctx.src
    if not src.in_device_code(src.line_of(si)):
        return False
    src.hazard(si, "dynamic-parallelism", "error",
               "device-side synchronize (dynamic parallelism) has no HIP counterpart", span=_statement(src, si))
    return True


@token_rule("hip", spellings={"__grid_constant__"})
def _grid_constant(ctx: Context, si: int) -> bool:
    """``__grid_constant__`` (CUDA 11.7) promises that a const kernel parameter is never copied to local
    memory, so its address may be taken; it changes no value. HIP has no such keyword (clang's HIP mode
    rejects it as an unknown type name): dropped."""
    src = ctx.src
    if not _drop_keyword(src, si):
        return False
    src.count("device")
    src.hazard(si, "grid-constant", "info", "__grid_constant__ has no HIP counterpart and changes no value; "
               "dropped (a kernel parameter's address is then that of a copy)", fixed=True)
    return True


@token_rule("hip", spellings={"CUDART_CB"})
def _callback_convention(ctx: Context, si: int) -> bool:
    """``CUDART_CB`` marks a host callback's calling convention (``__stdcall`` on Windows, nothing on
    Linux); HIP declares no such macro and takes plain functions: dropped."""
    if not _drop_keyword(ctx.src, si):
        return False
    ctx.src.count("runtime")
    return True


def _drop_keyword(src, si: int) -> bool:
    """Remove the token at ``si`` and the space after it; False (nothing removed) in a directive."""
    if src.stok(si).directive:
        return False
    src.set_token(si, "")
    after = src.sig[si] + 1
    if after < len(src.out) and src.out[after].isspace():
        src.out[after] = ""
    return True


@token_rule("hip", spellings={"__CUDA_ARCH__"})
def _arch_check(ctx: Context, si: int) -> bool:
    src = ctx.src
    op = src.stext(si + 1)
    if not src.stok(si).directive or op not in (">", ">=", "<", "<=", "==", "!="):
        return False
    value = _int_value(src.stext(si + 2))
    text = ""
    if value is not None and (op == ">=" and value <= ARCH_PROVIDED_BY_AMD or op == ">" and value < ARCH_PROVIDED_BY_AMD):
        text = "defined(__HIP_DEVICE_COMPILE__)"
    elif value is not None and op in ("<", "<=") and value < ARCH_PROVIDED_BY_AMD:
        text = "!defined(__HIP_DEVICE_COMPILE__)"
    if text:
        src.queue_span(si, si + 3, lambda: text)
        src.hazard(si, "arch-check", "info",
                   f"'__CUDA_ARCH__ {op} {value}' selects features every AMD GPU has; now a device-pass "
                   f"test ({text})", fixed=True, span=(si, si + 3))
        return True
    src.hazard(si, "arch-check", "warning",
               "__CUDA_ARCH__ compared with a compute capability; on HIP the device-pass test is "
               "__HIP_DEVICE_COMPILE__ (always 1), so this branch needs a person to pick it", span=(si, si + 3))
    return True


@token_rule("cuda", spellings={"__AMDGCN_WAVEFRONT_SIZE"})
def _wavefront_size_macro(ctx: Context, si: int) -> bool:
    src = ctx.src
    if src.stok(si).directive:
        return False
    src.set_token(si, "warpSize")
    src.hazard(si, "warp-size-macro", "warning",
               "__AMDGCN_WAVEFRONT_SIZE is AMD-only; replaced by warpSize (not a constant "
               "expression on NVIDIA: check template arguments and array sizes)", fixed=True)
    return True


@token_rule(spellings={"warpSize"})
def _warpsize_constexpr(ctx: Context, si: int) -> bool:
    src = ctx.src
    if not (_constant_context(src, si) or _template_argument(src, si)):
        return False
    if ctx.to == "cuda" and not src.stok(si).directive:
        # NVIDIA's warp is 32 lanes on every GPU, so the constant is exact there.
        src.set_token(si, "32")
        src.count("hazard-fixes")
        src.hazard(si, "warpsize-constexpr", "warning",
                   "warpSize used where a compile-time constant is needed (a template argument, constexpr or "
                   "static_assert); it is a run-time value in CUDA, and every NVIDIA warp has 32 lanes, so it "
                   "is now 32", fixed=True, span=_statement(src, si))
        return True
    src.hazard(si, "warpsize-constexpr", "warning" if ctx.to == "hip" else "error",
               "warpSize used where a compile-time constant is needed; it is a run-time value on "
               "NVIDIA and on recent ROCm - use a template parameter or a WARP_SIZE macro",
               span=_statement(src, si))
    return True


@token_rule(spellings={"__launch_bounds__"})
def _launch_bounds(ctx: Context, si: int) -> bool:
    src = ctx.src
    if src.stext(si + 1) != "(":
        return False
    close = src.match_close(si + 1)
    if close > 0 and len(src.split_args(si + 1, close)) > 1:
        src.hazard(si, "launch-bounds", "info",
                   "the second __launch_bounds__ argument means minimum blocks per SM on NVIDIA but "
                   "minimum waves per EU on AMD; retune it for the target", span=(si, close + 1))
    return True


# Compute capabilities whose features every gfx9 GPU has (read-only loads 3.5, half arithmetic 5.3,
# double atomicAdd 6.0): a device-pass test against them becomes a plain device-pass test.
ARCH_PROVIDED_BY_AMD = 600


def _template_argument(src: SourceEdit, si: int) -> bool:
    """``f<warpSize>(...)``, ``g<T, warpSize>``: an argument of a template-id."""
    if src.stext(si + 1) not in (">", ",", ">>"):
        return False
    depth = 0
    for j in range(si - 1, max(-1, si - 40), -1):
        tx = src.stext(j)
        if tx in (";", "{", "}", "(", ")", "=", "&&", "||"):
            return False
        if tx == ">":
            depth += 1
        elif tx == "<":
            if depth == 0:
                return src.stok(j - 1) is not None and src.stok(j - 1).kind == "ident"
            depth -= 1
    return False


def _constant_context(src: SourceEdit, si: int) -> bool:
    if src.stok(si).directive:
        return True
    start = src.statement_start(si)
    words = {src.stext(j) for j in range(start, si)}
    return bool(words & {"constexpr", "static_assert"})


# --------------------------------------------------------------------------- clang-only features (HIP -> CUDA)

# clang's ext_vector_type for nvcc: N elements of T with subscripts and element-wise arithmetic, and the
# llvm.fma intrinsic that HIP code reaches through an asm label.
EXT_VECTOR_PREAMBLE = """
#ifndef PORTKERN_EXT_VECTOR_DEFINED
#define PORTKERN_EXT_VECTOR_DEFINED
template <typename T, int N>
struct alignas((N & (N - 1)) == 0 ? sizeof(T) * N : sizeof(T)) portkern_ext_vector
{
    T v[N];
    __host__ __device__ T& operator[](int i) { return v[i]; }
    __host__ __device__ const T& operator[](int i) const { return v[i]; }
};
#define PORTKERN_EXT_VECTOR_OP(op)                                                                        \\
    template <typename T, int N>                                                                          \\
    __host__ __device__ inline portkern_ext_vector<T, N> operator op(const portkern_ext_vector<T, N>& a,  \\
                                                                     const portkern_ext_vector<T, N>& b)  \\
    { portkern_ext_vector<T, N> r; for(int i = 0; i < N; ++i) r[i] = a[i] op b[i]; return r; }           \\
    template <typename T, int N>                                                                          \\
    __host__ __device__ inline portkern_ext_vector<T, N> operator op(const portkern_ext_vector<T, N>& a,  \\
                                                                     const T& b)                          \\
    { portkern_ext_vector<T, N> r; for(int i = 0; i < N; ++i) r[i] = a[i] op b; return r; }              \\
    template <typename T, int N>                                                                          \\
    __host__ __device__ inline portkern_ext_vector<T, N> operator op(const T& a,                          \\
                                                                     const portkern_ext_vector<T, N>& b)  \\
    { portkern_ext_vector<T, N> r; for(int i = 0; i < N; ++i) r[i] = a op b[i]; return r; }              \\
    template <typename T, int N, typename U>                                                              \\
    __host__ __device__ inline portkern_ext_vector<T, N>& operator op##=(portkern_ext_vector<T, N>& a,    \\
                                                                         const U& b)                      \\
    { a = a op b; return a; }
PORTKERN_EXT_VECTOR_OP(+)
PORTKERN_EXT_VECTOR_OP(-)
PORTKERN_EXT_VECTOR_OP(*)
PORTKERN_EXT_VECTOR_OP(/)
#undef PORTKERN_EXT_VECTOR_OP
template <typename T, int N>
__device__ inline portkern_ext_vector<T, N> portkern_llvm_fma(const portkern_ext_vector<T, N>& a,
                                                              const portkern_ext_vector<T, N>& b,
                                                              const portkern_ext_vector<T, N>& c)
{
    portkern_ext_vector<T, N> r;
    for(int i = 0; i < N; ++i)
        r[i] = T(fmaf(float(a[i]), float(b[i]), float(c[i])));
    return r;
}
template <typename T>
__device__ inline T portkern_llvm_fma(T a, T b, T c) { return T(fmaf(float(a), float(b), float(c))); }
#endif
"""


def _insert_preamble_once(ctx: Context, key: str, text: str) -> None:
    if ctx.once(key, 0):
        insert_after_includes(ctx.src, text)


@token_rule("cuda", spellings={"ext_vector_type"})
def _ext_vector_type(ctx: Context, si: int) -> bool:
    """``typedef T name __attribute__((ext_vector_type(N)));`` -> ``typedef portkern_ext_vector<T, N> name;``"""
    src = ctx.src
    start, end = _whole_statement(src, si)
    attr = si - 3   # __attribute__ ( ( ext_vector_type
    n = _int_value(src.stext(si + 2))
    ok = src.stext(start) == "typedef" and src.stext(attr) == "__attribute__" and n is not None and \
        src.stext(si + 3) == ")" and src.stext(end - 1) == ";" and src.stok(attr - 1).kind == "ident"
    if not ok:
        src.hazard(si, "clang-extension", "error",
                   "ext_vector_type is a clang extension nvcc ignores; declare the vector as a struct",
                   span=(start, end))
        return True
    name = src.stext(attr - 1)
    elem = (start + 1, attr - 1)
    src.queue_span(start, end, lambda: f"typedef portkern_ext_vector<{src.out_text(*elem).strip()}, {n}> {name};")
    _insert_preamble_once(ctx, "ext-vector-preamble", EXT_VECTOR_PREAMBLE)
    src.count("hazard-fixes")
    src.hazard(si, "clang-extension", "warning",
               f"'{name}' is a clang ext_vector_type, which nvcc ignores; now portkern_ext_vector<..., {n}> "
               "(subscripts and element-wise + - * /; swizzles such as .xy are not provided)",
               fixed=True, span=(start, end))
    return True


@token_rule("cuda", spellings={"__asm", "__asm__", "asm"})
def _llvm_asm_label(ctx: Context, si: int) -> bool:
    """``R f(A, B, C) __asm("llvm.fma.v2f16");``: a declaration bound to an LLVM intrinsic."""
    src = ctx.src
    label = src.stext(si + 2)
    if src.stext(si + 1) != "(" or not label.startswith('"llvm.'):
        return False
    start, end = _statement(src, si)
    if label.startswith('"llvm.fma') and src.stext(si - 1) == ")" and src.stext(end - 1) == ";":
        close = si - 1
        depth, open_si = 0, close
        while open_si > start:
            tx = src.stext(open_si)
            depth += 1 if tx == ")" else -1 if tx == "(" else 0
            if depth == 0:
                break
            open_si -= 1
        params = src.split_args(open_si, close)
        if len(params) == 3:
            head = src.src_text(start, open_si).replace('extern "C"', "").strip()
            types = [src.src_text(*p) for p in params]
            text = (f"inline {head}({', '.join(f'{t} portkern_{i}' for i, t in enumerate(types))})\n"
                    "{\n    return portkern_llvm_fma(portkern_0, portkern_1, portkern_2);\n}")
            src.queue_span(start, end, lambda: text)
            _insert_preamble_once(ctx, "ext-vector-preamble", EXT_VECTOR_PREAMBLE)
            src.count("hazard-fixes")
            src.hazard(si, "clang-extension", "warning",
                       f"declaration bound to the LLVM intrinsic {label} through an asm label (clang only); "
                       "now an inline function doing the same fused multiply-add", fixed=True, span=(start, end))
            return True
    src.hazard(si, "clang-extension", "error",
               f"declaration bound to the LLVM intrinsic {label} through an asm label, which only clang "
               "understands; write the operation with CUDA intrinsics", span=(start, end))
    return True


HALF_PREAMBLE = """
#ifndef PORTKERN_HALF_DEFINED
#define PORTKERN_HALF_DEFINED
#include <cuda_fp16.h>
#include <type_traits>
// clang's _Float16 for nvcc, which stops on it in device code: a CUDA __half with _Float16's implicit
// conversions and arithmetic. half op half is done in float and rounded once, which gives the same value
// as a native half + - * / (float carries more than twice half's precision); a half with an integer
// stays half, a half with float or double becomes float or double, as C++ promotes _Float16.
struct portkern_half
{
    __half h;
    portkern_half() = default;
    __host__ __device__ portkern_half(__half v) : h(v) {}
    __host__ __device__ portkern_half(double v) : h(__double2half(v)) {}
    template <typename T, typename std::enable_if<std::is_arithmetic<T>::value, int>::type = 0>
    __host__ __device__ portkern_half(T v) : h(__float2half(static_cast<float>(v))) {}
    __host__ __device__ operator float() const { return __half2float(h); }
    __host__ __device__ explicit operator __half() const { return h; }
    __host__ __device__ portkern_half operator-() const { return portkern_half(-float(*this)); }
    __host__ __device__ portkern_half operator+() const { return *this; }
    __host__ __device__ portkern_half& operator++() { return *this = portkern_half(float(*this) + 1.0f); }
    __host__ __device__ portkern_half& operator--() { return *this = portkern_half(float(*this) - 1.0f); }
    __host__ __device__ portkern_half operator++(int) { portkern_half old = *this; ++*this; return old; }
    __host__ __device__ portkern_half operator--(int) { portkern_half old = *this; --*this; return old; }
};
template <typename T, bool = std::is_floating_point<T>::value> struct portkern_half_promote { typedef T type; };
template <typename T> struct portkern_half_promote<T, false> { typedef portkern_half type; };
#define PORTKERN_HALF_ARITH(op)                                                                            \\
    __host__ __device__ inline portkern_half operator op(portkern_half a, portkern_half b)                \\
    { return portkern_half(float(a) op float(b)); }                                                        \\
    template <typename T, typename std::enable_if<std::is_arithmetic<T>::value, int>::type = 0>           \\
    __host__ __device__ inline typename portkern_half_promote<T>::type operator op(portkern_half a, T b)  \\
    { typedef typename portkern_half_promote<T>::type R;                                                   \\
      typedef typename std::conditional<std::is_floating_point<T>::value, T, float>::type C;               \\
      return R(C(float(a)) op C(b)); }                                                                     \\
    template <typename T, typename std::enable_if<std::is_arithmetic<T>::value, int>::type = 0>           \\
    __host__ __device__ inline typename portkern_half_promote<T>::type operator op(T a, portkern_half b)  \\
    { typedef typename portkern_half_promote<T>::type R;                                                   \\
      typedef typename std::conditional<std::is_floating_point<T>::value, T, float>::type C;               \\
      return R(C(a) op C(float(b))); }                                                                     \\
    template <typename T>                                                                                  \\
    __host__ __device__ inline portkern_half& operator op##=(portkern_half& a, const T& b)                \\
    { return a = portkern_half(a op b); }
PORTKERN_HALF_ARITH(+)
PORTKERN_HALF_ARITH(-)
PORTKERN_HALF_ARITH(*)
PORTKERN_HALF_ARITH(/)
#undef PORTKERN_HALF_ARITH
#define PORTKERN_HALF_COMPARE(op)                                                                          \\
    __host__ __device__ inline bool operator op(portkern_half a, portkern_half b)                         \\
    { return float(a) op float(b); }                                                                       \\
    template <typename T, typename std::enable_if<std::is_arithmetic<T>::value, int>::type = 0>           \\
    __host__ __device__ inline bool operator op(portkern_half a, T b)                                     \\
    { typedef typename std::conditional<std::is_floating_point<T>::value, T, float>::type C;               \\
      return C(float(a)) op C(b); }                                                                        \\
    template <typename T, typename std::enable_if<std::is_arithmetic<T>::value, int>::type = 0>           \\
    __host__ __device__ inline bool operator op(T a, portkern_half b)                                     \\
    { typedef typename std::conditional<std::is_floating_point<T>::value, T, float>::type C;               \\
      return C(a) op C(float(b)); }
PORTKERN_HALF_COMPARE(==)
PORTKERN_HALF_COMPARE(!=)
PORTKERN_HALF_COMPARE(<)
PORTKERN_HALF_COMPARE(<=)
PORTKERN_HALF_COMPARE(>)
PORTKERN_HALF_COMPARE(>=)
#undef PORTKERN_HALF_COMPARE
#endif
"""


@token_rule("cuda", spellings={"_Float16"})
def _float16(ctx: Context, si: int) -> bool:
    """``_Float16`` (rocBLAS's ``rocblas_half``) -> ``portkern_half``, a ``__half`` with _Float16's conversions
    and arithmetic: nvcc 13 parses _Float16 but stops with an internal error on device code using it."""
    src = ctx.src
    src.set_token(si, "portkern_half")
    _insert_preamble_once(ctx, "half-preamble", HALF_PREAMBLE)
    src.count("hazard-fixes")
    if ctx.once("float16", 0):
        src.hazard(si, "clang-extension", "warning",
                   "_Float16 is a clang extension type that stops nvcc with an internal error in device code; "
                   "now portkern_half, a __half (cuda_fp16.h) with _Float16's conversions and arithmetic "
                   "(done in float, rounded to half)", fixed=True, span=_statement(src, si))
    return True


@file_rule("cuda")
def _redeclared_runtime_types(ctx: Context) -> None:
    """``typedef struct ihipStream_t* hipStream_t;`` names the runtime's own type, which the CUDA headers
    declare (as cudaStream_t). When the struct has a documented CUDA name (``CUstream_st``) the typedef
    becomes a valid redeclaration; otherwise it would conflict, so it is dropped."""
    src = ctx.src
    for si in src.where("typedef"):
        end = src.statement_end(si)
        words = [src.stext(k) for k in range(si, end)]
        if len(words) == 6 and words[1] == "struct" and words[3] == "*" and words[5] == ";" and \
                src.out[src.sig[si + 4]] != words[4] and src.out[src.sig[si + 2]] == words[2]:
            original = src.src_text(si, end)
            src.queue_span(si, end, lambda o=original: f"/* {o} (declared by the CUDA runtime) */")
            src.count("hazard-fixes")
            src.hazard(si, "runtime-type-declaration", "warning",
                       f"'{original}' declares the runtime's own type, which the CUDA runtime declares "
                       f"as {src.out[src.sig[si + 4]]}; removed", fixed=True, span=(si, end))


def _in_class_body(src: SourceEdit, si: int) -> bool:
    depth = 0
    for j in range(si - 1, -1, -1):
        tx = src.stext(j)
        if tx == "}":
            depth += 1
        elif tx == "{":
            if depth == 0:
                k = j - 1
                while k >= 0 and src.stext(k) not in (";", "{", "}"):
                    if src.stext(k) in ("class", "struct"):
                        return True
                    k -= 1
                return False
            depth -= 1
    return False


@file_rule("cuda")
def _class_scope_specializations(ctx: Context) -> None:
    """``template <> void f<X>(...)`` inside a class: C++17 and clang accept it, nvcc does not; an overload
    ``void f(...)`` taking the same arguments is chosen for them instead."""
    src = ctx.src
    for si in src.where("template"):
        if src.stext(si + 1) != "<" or src.stext(si + 2) != ">" or not _in_class_body(src, si):
            continue
        end = src.statement_end(si)
        paren = next((k for k in range(si + 3, end) if src.stext(k) == "("), -1)
        if paren < 0 or src.stext(paren - 1) != ">":
            continue
        depth, lt = 0, paren - 1
        while lt > si + 3:
            tx = src.stext(lt)
            depth += 1 if tx == ">" else -1 if tx == "<" else 0
            if depth == 0:
                break
            lt -= 1
        if src.stok(lt - 1).kind != "ident":
            continue
        src.queue_span(si, si + 3, lambda: "")
        src.queue_span(lt, paren, lambda: "")
        src.count("hazard-fixes")
        src.hazard(si, "clang-extension", "warning",
                   f"explicit specialization of '{src.stext(lt - 1)}' inside its class, which nvcc rejects; "
                   "now an overload with the same parameters (calls that name the template arguments "
                   "explicitly still reach the primary template)", fixed=True, span=(si, paren))


@file_rule("cuda")
def _unsized_array_specializations(ctx: Context) -> None:
    """``template <> constexpr char name<T>[] = "...";``: nvcc cannot size the array of a variable template
    specialization from its initializer, so the size is written out."""
    src = ctx.src
    for si in src.where("["):
        if src.stext(si + 1) != "]" or src.stext(si + 2) != "=" or src.stext(si - 1) != ">":
            continue
        lit = src.stok(si + 3)
        if lit is None or lit.kind != "string" or not lit.text.startswith('"') or src.stext(si + 4) != ";":
            continue
        if src.stext(src.statement_start(si)) != "template":
            continue
        try:
            size = len(bytes(lit.text[1:-1], "utf-8").decode("unicode_escape").encode("utf-8")) + 1
        except UnicodeDecodeError:
            continue
        src.queue_span(si, si + 2, lambda n=size: f"[{n}]")
        src.count("hazard-fixes")
        src.hazard(si, "clang-extension", "info",
                   f"array variable template specialization without a size: nvcc needs it written out ({size})",
                   fixed=True)


@file_rule("cuda")
def _host_device_overloads(ctx: Context) -> None:
    """A ``__host__`` and a ``__device__`` definition of the same function: clang overloads on the target,
    nvcc calls it a redefinition; they become one ``__host__ __device__`` function choosing its body
    with ``__CUDA_ARCH__``."""
    src = ctx.src
    if "__host__" not in src.by_text or "__device__" not in src.by_text:
        return  # a pair needs both words
    by_head: dict[str, list[tuple[str, int, int, int]]] = {}
    starts = src.sstarts
    for fn in src.functions.spans:
        start = bisect_left(starts, src.lines.line_start(fn.start_line))  # first token on or after the line
        if start >= len(starts) or src.line_of(start) != fn.start_line:
            continue
        body = next((k for k in range(start, len(src.sig)) if src.stext(k) == "{"), -1)
        if body < 0 or src.line_of(body) > fn.end_line:
            continue
        close = src.match_close(body)
        words = [src.stext(k) for k in range(start, body)]
        if ("__host__" in words) == ("__device__" in words):
            continue
        target = "host" if "__host__" in words else "device"
        head = " ".join(w for w in words if w not in ("__host__", "__device__"))
        by_head.setdefault(head, []).append((target, start, body, close))
    for head, defs in by_head.items():
        targets = {d[0] for d in defs}
        if len(defs) != 2 or targets != {"host", "device"}:
            continue
        (t1, s1, b1, c1), (t2, s2, b2, c2) = sorted(defs, key=lambda d: d[1])
        bodies = {t1: (b1, c1), t2: (b2, c2)}
        head_text = src.src_text(s1, b1).replace("__host__", "__host__ __device__", 1) if t1 == "host" else \
            src.src_text(s1, b1).replace("__device__", "__host__ __device__", 1)

        def merged(bodies=bodies, head_text=head_text, between=(c1 + 1, s2)) -> str:
            # one span over both definitions, so both bodies are read before either is replaced
            dev = src.out_text(bodies["device"][0] + 1, bodies["device"][1]).strip()
            host = src.out_text(bodies["host"][0] + 1, bodies["host"][1]).strip()
            rest = src.out_text(*between).strip()
            return (f"{head_text}\n{{\n#if defined(__CUDA_ARCH__)\n{dev}\n#else\n{host}\n#endif\n}}"
                    + (f"\n{rest}" if rest else ""))
        src.queue_span(s1, c2 + 1, merged)
        src.count("hazard-fixes")
        name = src.functions.at(src.line_of(s1)).name if src.functions.at(src.line_of(s1)) else head
        src.hazard(s1, "clang-extension", "warning",
                   f"'{name}' has a __host__ and a __device__ definition (clang overloads on the target; nvcc "
                   "rejects the redefinition); merged into one __host__ __device__ function that picks its "
                   "body with __CUDA_ARCH__", fixed=True, span=(s1, c2 + 1))


_WARPISH_CONSTANT = re.compile(r"(?i)^(?:k?_*warp\w*|k?_*wave\w*|k?_*wf_?size|\w*_warp|\w*_wave)$")


@file_rule("cuda")
def _hard_coded_wavefront_constants(ctx: Context) -> None:
    """``static constexpr int WARP = 64;`` or ``= 64; // warpSize ...``: a 64-lane wavefront written as a
    number. Reported: whether 64 is a wavefront or a tile there needs a person (or the model)."""
    src = ctx.src
    for si in _numbers_valued(src, {64}):
        if _int_value(src.stext(si)) != 64 or src.stext(si - 1) != "=" or src.stext(si + 1) != ";":
            continue
        name = src.stext(si - 2)
        start = src.statement_start(si)
        words = {src.stext(k) for k in range(start, si)}
        tail = src.text[src.send(si):src.text.find("\n", src.send(si))]
        comment_says = bool(re.search(r"(?i)warp|wave", tail))
        if not (words & {"constexpr", "const", "#define"} or comment_says):
            continue
        if _WARPISH_CONSTANT.match(name) or comment_says:
            src.hazard(si, "warp-size-constant", "warning",
                       f"'{name} = 64' hard-codes a 64-lane wavefront; NVIDIA warps have 32 lanes - use warpSize "
                       "(or 32) where it is the warp width, keep it where it is a block or tile size",
                       span=(start, src.statement_end(si)))


# --------------------------------------------------------------------------- header guards (CUDA -> HIP)

# Include guards of CUDA headers that code tests to ask "are the runtime's types declared?" (the CUDA
# samples' helper_cuda.h defines checkCudaErrors only then), and the HIP headers' guards meaning the same.
# From the headers of CUDA 13 and of HIP 6 (hip/driver_types.h, hip/hip_runtime.h).
CUDA_HEADER_GUARDS = {"__DRIVER_TYPES_H__": "HIP_INCLUDE_HIP_DRIVER_TYPES_H",
                      "__CUDA_RUNTIME_H__": "HIP_INCLUDE_HIP_HIP_RUNTIME_H"}


@token_rule("hip", spellings=set(CUDA_HEADER_GUARDS))
def _cuda_header_guard(ctx: Context, si: int) -> bool:
    src = ctx.src
    if not src.stok(si).directive:
        return False
    name = src.stext(si)
    src.set_token(si, CUDA_HEADER_GUARDS[name])
    src.count("hazard-fixes")
    src.hazard(si, "header-guard", "info",
               f"'{name}' is the include guard of a CUDA header; tested here to see whether the runtime is "
               f"declared, so it is now HIP's guard {CUDA_HEADER_GUARDS[name]}", fixed=True)
    return True


# --------------------------------------------------------------------------- overloads that collapse (CUDA -> HIP)


@file_rule("hip")
def _collapsed_overloads(ctx: Context) -> None:
    """Overloads whose parameter types become one type in HIP (``f(cudaError_t)`` and ``f(CUresult)``, both
    ``hipError_t``: the CUDA samples' helper_cuda.h, copied into many projects) would be redefinitions. The
    first definition defines a marker macro where it is compiled, and a later one with the same translated
    head is skipped where the marker is defined: whichever preprocessor branches hold them, exactly one
    definition is compiled."""
    src = ctx.src
    # Only where two CUDA names of the file become one HIP name (the function index parses the file)
    targets: dict[str, set[str]] = {}
    for name in src.by_text:
        entry = ctx.tables.to_hip.get(name)
        if entry is not None:
            targets.setdefault(entry.hip, set()).add(name)
    if not any(len(names) > 1 for names in targets.values()):
        return
    groups: dict[str, list] = {}
    for span in src.functions.spans:
        if span.name and not span.is_kernel:
            groups.setdefault(span.name, []).append(span)
    for name, spans in groups.items():
        if len(spans) < 2:
            continue
        first_by_head: dict[str, tuple[int, str]] = {}
        for span in spans:
            si = bisect_left(src.sstarts, src.lines.line_start(span.start_line))
            j = si
            while j < len(src.sig) and src.stext(j) not in ("{", ";"):
                j += 1
            if j >= len(src.sig) or src.stext(j) != "{" or src.stext(si) == "template" or name not in src.stexts[si:j]:
                continue
            close = src.match_close(j)
            if close < 0:
                continue
            translated = " ".join(src.out[src.sig[k]] for k in range(si, j))
            original = " ".join(src.stexts[si:j])
            if translated not in first_by_head:
                first_by_head[translated] = (si, original)
                continue
            first_si, first_original = first_by_head[translated]
            if first_original == original:
                continue                 # the same head in the source too: branches the author chose
            marker = "PORTKERN_DEFINED_" + re.sub(r"\W", "_", name) + f"_{src.line_of(first_si)}"
            if not src.out[src.sig[first_si]].startswith("#define"):
                src.queue_span(first_si, first_si + 1, lambda a=first_si, m=marker:
                               f"#define {m}\n" + src.out_text(a, a + 1))
            src.queue_span(si, close + 1, lambda a=si, b=close, m=marker:
                           f"#ifndef {m}\n{src.out_text(a, b + 1)}\n#endif")
            src.count("hazard-fixes")
            src.hazard(si, "collapsed-overload", "info",
                       f"this {name} and the one on line {src.line_of(first_si)} take the same types in HIP; "
                       "only one of them is compiled", fixed=True, span=(si, close + 1))


# --------------------------------------------------------------------------- implicit runtime header (CUDA -> HIP)

_DEVICE_BUILTINS = frozenset({"threadIdx", "blockIdx", "blockDim", "gridDim", "__global__", "__syncthreads"})


@file_rule("hip")
def _implicit_runtime_header(ctx: Context) -> None:
    """nvcc includes the CUDA runtime in every .cu file; clang's HIP mode declares neither threadIdx and
    friends nor the runtime API without the HIP runtime header, so a file using them (or calling a
    runtime function renamed here) that includes no runtime header gets it."""
    src = ctx.src
    if not src.filename.endswith(".cu"):
        return
    if not src.counts.get("runtime") and not any(src.where(b) for b in _DEVICE_BUILTINS):
        return
    for ti in src.include_tis:
        # hip/hip_runtime.h or cuda_runtime.h (renamed already); the runtime API header alone declares no
        # threadIdx.
        if "runtime" in src.out[ti] and "runtime_api" not in src.out[ti]:
            return
    src.prefix = "#include <hip/hip_runtime.h>\n" + src.prefix
    src.count("headers")
