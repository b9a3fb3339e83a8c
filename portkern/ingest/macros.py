"""Library macros: their definitions, what they stand for, and expanding declaration macros.

Kernels in rocBLAS-style trees are declared through macros (``ROCBLAS_KERNEL(NB) name(...)``), which
a parser that does not preprocess cannot see as kernels. Ingest expands the invocations of the
macros that build declarations (kernel, device-helper and explicit-instantiation macros) before
parsing, keeping line numbers, and maps positions back to the original text. Other macros are left
alone: the extracted units keep them as written, with their ``#define``.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

# Lexical patterns over macro replacement text (not over code structure).
_IDENT = re.compile(r"[A-Za-z_]\w*")
_CONTINUATION = re.compile(r"\\\r?\n")

KIND_KERNEL = "kernel"
KIND_DEVICE_HELPER = "device_helper"
KIND_LAUNCH = "launch"
KIND_INSTANTIATION = "instantiation"
KIND_SCOPE = "scope"
KIND_OTHER = "other"
DECLARATION_KINDS = (KIND_KERNEL, KIND_DEVICE_HELPER, KIND_INSTANTIATION)
# Kinds whose invocations are expanded before parsing: declaration macros, and macros that open or
# close a scope (``NS_BEGIN_NAMESPACE`` -> ``namespace ns {``), without which the braces never balance.
EXPANDED_KINDS = (*DECLARATION_KINDS, KIND_SCOPE)
_SCOPE_BODY = re.compile(r'(?:(?:inline\s+)?namespace(?:\s+[A-Za-z_][\w:]*)?\s*\{|extern\s+"C(?:\+\+)?"\s*\{|\}|;)'
                         r'(?:\s*(?:(?:inline\s+)?namespace(?:\s+[A-Za-z_][\w:]*)?\s*\{|extern\s+"C(?:\+\+)?"\s*\{|\}|;))*')

LAUNCH_CALLS = ("hipLaunchKernelGGL", "hipLaunchKernel", "hipLaunchCooperativeKernel", "hipExtLaunchKernelGGL",
                "cudaLaunchKernel", "cudaLaunchCooperativeKernel", "hipLaunchKernelEx", "cudaLaunchKernelEx")


@dataclass
class MacroDef:
    name: str
    params: list[str] | None         # None: object-like
    body: str                        # replacement text, continuations joined
    file: str
    line: int
    end_line: int
    condition: str = ""              # preprocessor condition the definition sits under ("" = always)
    kind: str = KIND_OTHER
    text: str = ""                   # the #define as written

    @property
    def function_like(self) -> bool:
        return self.params is not None

    def identifiers(self) -> set[str]:
        return set(_IDENT.findall(self.body))


_HELPER_TOKENS = frozenset({"__device__", "__host__", "__forceinline__", "__attribute__", "always_inline",
                            "inline", "static", "noinline", "__noinline__", "constexpr", "flatten"})


def classify(body: str) -> str:
    """What a macro's replacement text builds, judged from the tokens it contains."""
    tokens = set(_IDENT.findall(body))
    if body.count("{") != body.count("}") and _SCOPE_BODY.fullmatch(body.strip()):
        return KIND_SCOPE
    if "<<<" in body or tokens & set(LAUNCH_CALLS):
        return KIND_LAUNCH
    if re.match(r"template\b(?!\s*<)", body.lstrip()):
        return KIND_INSTANTIATION       # ``template <kernel-decl> name<args>(params);`` spelled through a macro
    if "__global__" in tokens:
        return KIND_KERNEL
    if tokens and tokens <= _HELPER_TOKENS:
        if "__device__" in tokens or "__host__" in tokens:
            return KIND_DEVICE_HELPER
    return KIND_OTHER


@dataclass
class MacroTableIndex:
    """All macros found in a tree (first definition wins for expansion) plus their kinds."""

    defs: dict[str, list[MacroDef]] = field(default_factory=dict)
    forced: dict[str, str] = field(default_factory=dict)       # name -> kind from library.yaml / profile
    fallback: dict[str, str] = field(default_factory=dict)     # kind -> replacement for undefined macros

    def __post_init__(self) -> None:
        self._kinds_memo: dict[tuple[str, ...], frozenset[str]] = {}
        self._patterns: dict[tuple[str, ...], re.Pattern[bytes]] = {}

    def add(self, m: MacroDef) -> None:
        self.defs.setdefault(m.name, []).append(m)
        self._kinds_memo.clear()

    def force(self, name: str, kind: str) -> None:
        self.forced[name] = kind
        self._kinds_memo.clear()

    def kind(self, name: str) -> str:
        if name in self.forced:
            return self.forced[name]
        found = self.defs.get(name)
        return found[0].kind if found else KIND_OTHER

    def first(self, name: str) -> MacroDef | None:
        found = self.defs.get(name)
        return found[0] if found else None

    def names_of_kind(self, *kinds: str) -> frozenset[str]:
        memo = self._kinds_memo.get(kinds)
        if memo is None:
            out = {n for n in self.defs if self.kind(n) in kinds}
            out |= {n for n, k in self.forced.items() if k in kinds}
            memo = self._kinds_memo[kinds] = frozenset(out)
        return memo

    def definitions_fingerprint(self) -> str:
        """Stable text of every definition, its condition and kind, and the forced kinds: all that
        configuring (evaluating ``#if``) and scanning a file read from the table."""
        parts = [f"{name}=" + "|".join(f"{m.kind}:{m.params}:{m.body}:{m.condition}" for m in self.defs[name])
                 for name in sorted(self.defs)]
        parts += [f"forced {name}:{kind}" for name, kind in sorted(self.forced.items())]
        parts.append(repr(sorted(self.fallback.items())))
        return "\n".join(parts)

    def resolve_kinds(self) -> None:
        """Macros built from other macros take their kind: ``DEFINE_K(T) ROCBLAS_KERNEL(256) k_##T(...)``."""
        changed = True
        while changed:
            changed = False
            kernel = self.names_of_kind(KIND_KERNEL)
            launch = self.names_of_kind(KIND_LAUNCH)
            helper = self.names_of_kind(KIND_DEVICE_HELPER)
            for defs in self.defs.values():
                for m in defs:
                    if m.kind != KIND_OTHER or m.name in self.forced:
                        continue
                    tokens = m.identifiers()
                    new = KIND_OTHER
                    if tokens & launch:
                        new = KIND_LAUNCH
                    elif tokens & kernel:
                        new = KIND_INSTANTIATION if re.match(r"template\b(?!\s*<)", m.body.lstrip()) else KIND_KERNEL
                    elif tokens and tokens & helper and tokens <= helper | _HELPER_TOKENS:
                        new = KIND_DEVICE_HELPER
                    if new != KIND_OTHER:
                        m.kind = new
                        changed = True
                        self._kinds_memo.clear()

    def invocation_pattern(self) -> re.Pattern[bytes] | None:
        """Regex matching the names of declaration macros (a word search, to locate invocations)."""
        names = self.names_of_kind(*EXPANDED_KINDS)
        if not names:
            return None
        key = ("pattern", *sorted(names))
        if key not in self._patterns:
            self._patterns[key] = re.compile(rb"\b" + _trie_regex(sorted(names)).encode("latin-1") + rb"\b")
        return self._patterns[key]

    def fingerprint(self) -> str:
        """Stable text of what affects expansion, for per-file cache keys."""
        parts = []
        for name in sorted(self.names_of_kind(*EXPANDED_KINDS)):
            m = self.first(name)
            parts.append(f"{name}:{self.kind(name)}:{m.params if m else None}:{m.body if m else ''}")
        parts.append(repr(sorted(self.fallback.items())))
        return "\n".join(parts)


def _trie_regex(words: list[str]) -> str:
    """One regex for many words, factored by common prefixes so that a mismatch fails at once."""
    trie: dict = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        end = "" in node
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if end:
            return f"(?:{body})?"
        return body

    return "(?:" + emit(trie) + ")"


# --------------------------------------------------------------------------- invocation arguments


def scan_arguments(text: str, open_paren: int) -> tuple[list[str], int] | None:
    """Split ``(a, f(b, c), d)`` starting at ``open_paren`` into its top-level arguments.

    Returns (arguments, index after the closing parenthesis), or None when unbalanced. Strings, char
    literals and comments are skipped so their commas and parentheses do not count.
    """
    depth = 0
    args: list[str] = []
    start = open_paren + 1
    i = open_paren
    n = len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c == "/" and i + 1 < n and text[i + 1] in "/*":
            end = text.find("\n" if text[i + 1] == "/" else "*/", i + 2)
            i = n if end < 0 else end + (0 if text[i + 1] == "/" else 2)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append(text[start:i])
                return [a.strip() for a in args] if any(a.strip() for a in args) or len(args) > 1 else [], i + 1
        elif c == "," and depth == 1:
            args.append(text[start:i])
            start = i + 1
        i += 1
    return None


def substitute(m: MacroDef, args: list[str]) -> str:
    """The replacement text of ``m`` with ``args`` substituted (handles #, ## and __VA_ARGS__)."""
    body = m.body
    if not m.function_like:
        return body
    params = list(m.params or [])
    values: dict[str, str] = {}
    variadic = bool(params) and params[-1] in ("...", "__VA_ARGS__")
    named = params[:-1] if variadic else params
    for i, p in enumerate(named):
        values[p] = args[i] if i < len(args) else ""
    if variadic:
        values["__VA_ARGS__"] = ", ".join(args[len(named):])
    elif params and params[-1].endswith("..."):     # named variadic: "args..."
        values[params[-1][:-3]] = ", ".join(args[len(named) - 1:])

    def stringify(match: re.Match) -> str:
        name = match.group(1)
        return '"' + values[name].replace("\\", "\\\\").replace('"', '\\"') + '"' if name in values else match.group(0)

    body = re.sub(r"(?<!#)#\s*([A-Za-z_]\w*)", stringify, body)
    out = _IDENT.sub(lambda t: values.get(t.group(0), t.group(0)), body)
    return re.sub(r"\s*##\s*", "", out)


# --------------------------------------------------------------------------- expansion with a position map


@dataclass
class Expansion:
    """One macro invocation replaced in the text handed to the parser."""

    name: str
    orig_start: int
    orig_end: int
    new_start: int
    new_end: int
    nested: list[str] = field(default_factory=list)      # macros expanded inside it


@dataclass
class ExpandedText:
    text: str
    expansions: list[Expansion]

    def __post_init__(self) -> None:
        self._starts = [e.new_start for e in self.expansions]

    def _at(self, pos: int) -> Expansion | None:
        i = bisect.bisect_right(self._starts, pos) - 1
        return self.expansions[i] if i >= 0 else None

    def orig_start(self, pos: int) -> int:
        e = self._at(pos)
        if e is None:
            return pos
        if pos < e.new_end:
            return e.orig_start
        return pos - e.new_end + e.orig_end

    def orig_end(self, pos: int) -> int:
        e = self._at(pos - 1) if pos > 0 else None
        if e is None:
            return pos
        if pos <= e.new_end:
            return e.orig_end
        return pos - e.new_end + e.orig_end

    def expansion_at(self, pos: int) -> Expansion | None:
        """The expansion that produced the text at ``pos`` (None when written out)."""
        e = self._at(pos)
        return e if e is not None and pos < e.new_end else None

    def expansions_in(self, start: int, end: int) -> list[Expansion]:
        lo = bisect.bisect_left(self._starts, start)
        hi = bisect.bisect_left(self._starts, end)
        return self.expansions[lo:hi]


def expand_declaration_macros(text: str, positions: list[tuple[int, str]], table: MacroTableIndex,
                              depth_limit: int = 8) -> ExpandedText:
    """Replace the invocations at ``positions`` ((offset, name), sorted) by their expansions.

    The line count is kept: an invocation spanning k lines is followed by k newlines.
    """
    pieces: list[str] = []
    expansions: list[Expansion] = []
    cursor = 0
    out_len = 0
    for offset, name in positions:
        if offset < cursor:
            continue            # inside a previous invocation's arguments
        replaced = _expand_one(text, offset, name, table, depth_limit)
        if replaced is None:
            continue
        end, replacement, nested = replaced
        pieces.append(text[cursor:offset])
        out_len += offset - cursor
        newlines = text.count("\n", offset, end)
        replacement = replacement.replace("\r", " ").replace("\n", " ") + "\n" * newlines
        expansions.append(Expansion(name, offset, end, out_len, out_len + len(replacement), nested))
        pieces.append(replacement)
        out_len += len(replacement)
        cursor = end
    pieces.append(text[cursor:])
    return ExpandedText("".join(pieces), expansions)


def _expand_one(text: str, offset: int, name: str, table: MacroTableIndex,
                depth: int) -> tuple[int, str, list[str]] | None:
    m = table.first(name)
    kind = table.kind(name)
    after = offset + len(name)
    j = after
    while j < len(text) and text[j] in " \t":
        j += 1
    has_args = j < len(text) and text[j] == "("
    if m is None:
        template = table.fallback.get(kind + ("" if has_args else "_no_args")) or table.fallback.get(kind)
        if not template:
            return None
        if has_args:
            scanned = scan_arguments(text, j)
            if scanned is None:
                return None
            args, end = scanned
            return end, template.replace("{args}", ", ".join(args)), []
        return after, template.replace("{args}", ""), []
    if m.function_like:
        if not has_args:
            return None         # a function-like macro's name alone is not an invocation
        scanned = scan_arguments(text, j)
        if scanned is None:
            return None
        args, end = scanned
    else:
        args, end = [], after
    body = substitute(m, args)
    nested: list[str] = []
    if depth > 0:
        body, nested = expand_text(body, table, depth - 1)
    return end, body, nested


def expand_text(text: str, table: MacroTableIndex, depth: int = 8) -> tuple[str, list[str]]:
    """Expand declaration and launch macros inside a replacement text (no position map needed)."""
    names = table.names_of_kind(*DECLARATION_KINDS, KIND_LAUNCH)
    used: list[str] = []
    if depth <= 0 or not names:
        return text, used
    out: list[str] = []
    cursor = 0
    for tok in _IDENT.finditer(text):
        if tok.group(0) not in names or tok.start() < cursor:
            continue
        r = _expand_one(text, tok.start(), tok.group(0), table, depth - 1)
        if r is None:
            continue
        end, replacement, nested = r
        out.append(text[cursor:tok.start()])
        out.append(replacement)
        used.append(tok.group(0))
        used.extend(nested)
        cursor = end
    out.append(text[cursor:])
    return "".join(out), used


def join_continuations(text: str) -> str:
    return _CONTINUATION.sub(" ", text)
