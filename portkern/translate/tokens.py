"""A C/C++ preprocessor-aware tokenizer that keeps every character of the source.

Concatenating the text of the tokens gives the input back exactly, so a translation is a set of
edits on tokens and everything not edited (layout, comments, string literals) survives as written.
Directives are tokenized like code, so macro bodies and the branches of ``#if`` that the compiler
would skip are translated too; ``#include`` lines become one ``include`` token.
"""

from __future__ import annotations

import bisect
import gc
import re
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import accumulate, compress

# Kinds that carry no meaning for pattern matching.
TRIVIA = frozenset({"ws", "nl", "cont", "comment"})

# One alternation without capturing groups, so ``findall`` returns the token texts directly (C speed);
# kinds are then read from the first characters. Raw string literals need a back-reference to their
# delimiter, which ``findall`` would turn into group tuples: files containing one use _RAW_AWARE_RE.
#
# The regex engine tries the branches in order at every token, so the most common tokens come first
# (_FAST): brackets and separators no other branch can start with; whitespace not followed by '#' (at a
# line start that may be an #include line); newlines; identifiers not followed by a quote (else they may
# prefix a literal: u8"...", L'x', R"(...)"); numbers starting with a digit. Their guards are possessive,
# so a guarded branch fails instead of matching less, and the text then falls through to the complete
# list (_TOKENS), which decides every case as before.
_RAW = r'''(?:u8|u|U|L)?R"(?P<delim>[^()\\ \t\n"]{0,16})\(.*?\)(?P=delim)"'''
_FAST = r"""
    [(),;{}\[\]?~]
  | [ \t\r\f\v]++(?!\#)
  | \n
  | [A-Za-z_][A-Za-z0-9_]*+(?!["'])
  | [0-9](?:[eEpP][+-]|[0-9A-Za-z_.'])*
"""
_TOKENS = r"""
    ^[ \t]*\#[ \t]*include(?:_next)?[ \t]*(?:<[^>\n]*>|"[^"\n]*")
  | //(?:[^\n\\]|\\.|\\\n)*
  | /\*.*?\*/
  | (?:u8|u|U|L)?"(?:[^"\\\n]|\\.|\\\n)*"
  | (?:u8|u|U|L)?'(?:[^'\\\n]|\\.)*'
  | \.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.'])*
  | [A-Za-z_][A-Za-z0-9_]*
  | \n
  | \\\r?\n
  | [ \t\r\f\v]+
  | <<<|>>>|<<=|>>=|->\*|\.\.\.|::|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^!=<>]=|\#\#|.
"""
_TOKEN_RE = re.compile(_FAST + "|" + _TOKENS, re.VERBOSE | re.DOTALL | re.MULTILINE)
_RAW_AWARE_RE = re.compile(_FAST + "|" + _RAW + "|" + _TOKENS, re.VERBOSE | re.DOTALL | re.MULTILINE)

_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_DIGITS = frozenset("0123456789")
_SPACE = frozenset(" \t\r\f\v")


def _kind(text: str) -> str:
    c = text[0]
    if c in _IDENT_START:
        last = text[-1]
        if len(text) > 1 and (last == '"' or last == "'") and ('"' in text or "'" in text):
            return "string" if '"' in text else "char"  # u8"...", R"(...)", L'x'
        return "ident"
    if c == "\n":
        return "nl"
    if c in _SPACE:
        return "include" if "#" in text else "ws"
    if c in _DIGITS or (c == "." and len(text) > 1 and text[1] in _DIGITS):
        return "number"
    if c == '"':
        return "string"
    if c == "'":
        return "char"
    if c == "/" and len(text) > 1 and text[1] in "/*":
        return "comment"
    if c == "\\" and len(text) > 1:
        return "cont"
    if c == "#" and len(text) > 2 and "include" in text:
        return "include"
    return "punct"


_INCLUDE_NAME_RE = re.compile(r'include(?:_next)?[ \t]*([<"])([^>"\n]*)[>"]')


class Token:
    """One token: its kind, its text and where it starts in the source (character offset)."""

    __slots__ = ("kind", "text", "start", "directive")

    def __init__(self, kind: str, text: str, start: int, directive: bool):
        self.kind = kind
        self.text = text
        self.start = start
        self.directive = directive  # inside a preprocessor directive line (macro body, #if ...)

    @property
    def end(self) -> int:
        return self.start + len(self.text)

    def __repr__(self) -> str:
        return f"Token({self.kind}, {self.text!r}, {self.start})"


class _KindCache(dict):
    """Token text -> kind (the kind depends on the text alone), kept across files for short texts."""

    def __missing__(self, value: str) -> str:
        kind = _kind(value)
        if len(value) < 64 and len(self) < 200_000:   # bounded: a long-lived process keeps it
            self[value] = kind
        return kind


_KINDS = _KindCache()
kind_of = _KINDS.__getitem__   # a token text's kind


class _SignificantCache(dict):
    """Token text -> whether it matters for pattern matching (not whitespace or a comment)."""

    def __missing__(self, value: str) -> bool:
        kind = _KINDS.get(value) or _kind(value)
        significant = kind not in TRIVIA
        if len(value) < 64 and len(self) < 200_000:
            self[value] = significant
            if len(_KINDS) < 200_000:
                _KINDS[value] = kind   # its kind is asked next (the significant ones')
        return significant


_SIGNIFICANT = _SignificantCache()
# Kinds that leave a '#' at the start of its line: only these may come before a directive's '#'.
_LINE_START_KINDS = frozenset({"ws", "cont", "comment"})


def _directive_flags(values: list[str], kinds: list[str]) -> list[bool]:
    """Which tokens are inside a preprocessor directive: from a '#' that starts its line (or an include
    token) to the end of the line (continuations included). Found with list searches, so only the
    directives themselves are visited in Python."""
    return _directives_and_includes(values, kinds)[0]


def _directives_and_includes(values: list[str], kinds: list[str]) -> tuple[list[bool], list[int]]:
    """``_directive_flags`` and the indices of the include tokens, found on the way."""
    n = len(values)
    flags = [False] * n
    find_kind = kinds.index

    def mark_to_line_end(first: int) -> int:
        try:
            end = find_kind("nl", first)
        except ValueError:
            end = n
        flags[first:end] = [True] * (end - first)
        return end

    find_text = values.index
    i = 0
    while True:
        try:
            h = find_text("#", i)
        except ValueError:
            break
        i = h + 1
        if flags[h]:
            continue
        j = h - 1
        while j >= 0 and kinds[j] in _LINE_START_KINDS:
            j -= 1
        if j < 0 or kinds[j] == "nl":
            i = mark_to_line_end(h)
    i = 0
    includes: list[int] = []
    while True:
        try:
            h = find_kind("include", i)
        except ValueError:
            break
        includes.append(h)
        i = mark_to_line_end(h)
    return flags, includes


@contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """A translation makes millions of small acyclic objects (tokens) that reference counting frees; the
    cyclic collector would rescan them all several times per file, a large part of the run time."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def tokenize(text: str) -> list[Token]:
    texts, kinds, starts, directive = token_parts(text)
    with without_cyclic_gc():
        return list(map(Token, kinds, texts, starts, directive))


def token_parts(text: str) -> tuple[list[str], list[str], list[int], list[bool]]:
    """The tokens as parallel lists: texts, kinds, start offsets, inside-a-directive flags."""
    values, kinds, directive, _ = scan(text)
    return values, kinds, start_offsets(values), directive


def scan(text: str) -> tuple[list[str], list[str], list[bool], list[int]]:
    """Token texts, kinds, inside-a-directive flags and the indices of the include tokens (the start
    offsets, which few callers need for every token, come from ``start_offsets``)."""
    if 'R"' in text:
        values = [m.group() for m in _RAW_AWARE_RE.finditer(text)]
    else:
        values = _TOKEN_RE.findall(text)
    kinds = list(map(_KINDS.__getitem__, values))
    directive, includes = _directives_and_includes(values, kinds)
    return values, kinds, directive, includes


def scan_significant(text: str) -> tuple[list[str], list[bool], list[int], list[str], list[str], list[int],
                                        list[tuple[int, int]]]:
    """What an edit of ``text`` needs, without a kind for every token: the token texts, which are
    significant (not whitespace or comments), the indices of those, their texts and kinds, the indices of
    the include tokens and the directives (token index ranges ``[start, end)``, in order of start, which may
    overlap: ``directive_flags`` makes the per-token flags of them)."""
    if 'R"' in text:
        values = [m.group() for m in _RAW_AWARE_RE.finditer(text)]
    else:
        values = _TOKEN_RE.findall(text)
    significant = list(map(_SIGNIFICANT.__getitem__, values))
    sig = list(compress(range(len(values)), significant))
    stexts = list(compress(values, significant))
    skinds = list(map(kind_of, stexts))
    includes: list[int] = []
    if "include" in text:
        # the kinds are the cache's own strings: list searches find the few include tokens at C speed
        find_kind = skinds.index
        si = -1
        try:
            while True:
                si = find_kind("include", si + 1)
                includes.append(sig[si])
        except ValueError:
            pass
    return values, significant, sig, stexts, skinds, includes, _directive_regions(values, includes)


def _directive_regions(values: list[str], includes: list[int]) -> list[tuple[int, int]]:
    """The ranges ``_directive_flags`` marks, from the texts alone (a newline token is "\\n"; the include
    tokens are given)."""
    n = len(values)
    regions: list[tuple[int, int]] = []
    find_text = values.index

    def to_line_end(first: int) -> int:
        try:
            end = find_text("\n", first)
        except ValueError:
            end = n
        regions.append((first, end))
        return end

    i = 0
    while True:
        try:
            h = find_text("#", i)
        except ValueError:
            break
        i = h + 1     # a '#' inside a directive found here is never visited: the search goes on past it
        j = h - 1
        while j >= 0 and kind_of(values[j]) in _LINE_START_KINDS:
            j -= 1
        if j < 0 or values[j] == "\n":
            i = to_line_end(h)
    i = 0
    for h in includes:
        if h >= i:
            i = to_line_end(h)
    regions.sort()
    return regions


def directive_flags(regions: list[tuple[int, int]], n: int) -> list[bool]:
    """Per-token inside-a-directive flags of ``n`` tokens from ``scan_significant``'s directives."""
    flags = [False] * n
    for start, end in regions:
        flags[start:end] = [True] * (end - start)
    return flags


def significant_flags(regions: list[tuple[int, int]], sig: list[int]) -> list[bool]:
    """The same flags for the significant tokens only (``sig``: their indices, ascending)."""
    flags = [False] * len(sig)
    for start, end in regions:
        a, b = bisect.bisect_left(sig, start), bisect.bisect_left(sig, end)
        flags[a:b] = [True] * (b - a)
    return flags


def start_offsets(values: list[str]) -> list[int]:
    """Where each token starts (character offsets; one more entry: the end of the text)."""
    return list(accumulate(map(len, values), initial=0))


# Comments and string literals are matched (and skipped) so an #include inside them is not taken. An include
# line is matched with the newline before it (the text is given one in front), so every branch starts with
# a fixed character and the regex engine skips the text between them without trying each branch.
_QUOTED_INCLUDE_RE = re.compile(
    r'/\*.*?\*/|//(?:[^\n\\]|\\.|\\\n)*|"(?:[^"\\\n]|\\.)*"|\n[ \t]*\#[ \t]*include(?:_next)?[ \t]*("[^"\n]*)"',
    re.DOTALL)


def quoted_includes(text: str) -> list[str]:
    """The targets of ``#include "..."`` lines, without tokenizing the whole file."""
    if "include" not in text:
        return []
    # the group keeps the opening quote, so an include is never empty while other matches (comments,
    # strings) give "": findall then does the whole scan at C speed
    return [m[1:] for m in _QUOTED_INCLUDE_RE.findall("\n" + text) if m]


def include_target(token_text: str) -> tuple[str, str]:
    """``('<', 'hip/hip_runtime.h')`` for an include token's text."""
    m = _INCLUDE_NAME_RE.search(token_text)
    if not m:
        return "", ""
    return m.group(1), m.group(2)


class LineIndex:
    """Character offset -> (line, column), both 1-based."""

    def __init__(self, text: str):
        lines = text.split("\n")
        lines.pop()   # each other line ends with a newline: the next starts one past it
        self._starts = [0, *accumulate(map((1).__add__, map(len, lines)))]

    def line_col(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._starts, offset) - 1
        return i + 1, offset - self._starts[i] + 1

    def line_start(self, line: int) -> int:
        """Offset of the first character of 1-based ``line``."""
        return self._starts[line - 1]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)
