"""A C/C++ preprocessor-aware tokenizer that keeps every character of the source.

Concatenating the text of the tokens gives the input back exactly, so a translation is a set of
edits on tokens and everything not edited (layout, comments, string literals) survives as written.
Directives are tokenized like code, so macro bodies and the branches of ``#if`` that the compiler
would skip are translated too; ``#include`` lines become one ``include`` token.
"""

from __future__ import annotations

import bisect
import re

# Kinds that carry no meaning for pattern matching.
TRIVIA = frozenset({"ws", "nl", "cont", "comment"})

_TOKEN_RE = re.compile(
    r"""
    (?P<include>^[ \t]*\#[ \t]*include(?:_next)?[ \t]*(?:<[^>\n]*>|"[^"\n]*"))
  | (?P<comment>//(?:[^\n\\]|\\.|\\\n)*|/\*.*?\*/)
  | (?P<raw>(?:u8|u|U|L)?R"(?P<delim>[^()\\ \t\n"]{0,16})\(.*?\)(?P=delim)")
  | (?P<string>(?:u8|u|U|L)?"(?:[^"\\\n]|\\.|\\\n)*")
  | (?P<char>(?:u8|u|U|L)?'(?:[^'\\\n]|\\.)*')
  | (?P<number>\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.'])*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<nl>\n)
  | (?P<cont>\\\r?\n)
  | (?P<ws>[ \t\r\f\v]+)
  | (?P<punct><<<|>>>|<<=|>>=|->\*|\.\.\.|::|->|\+\+|--|<<|>>|<=|>=|==|!=|&&|\|\||[-+*/%&|^!=<>]=|\#\#|.)
    """,
    re.VERBOSE | re.DOTALL | re.MULTILINE,
)

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


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    append = tokens.append
    at_line_start = True
    in_directive = False
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind == "delim":  # only a sub-group of raw strings
            kind = "raw"
        if kind == "raw":
            kind = "string"
        value = m.group()
        if kind == "nl":
            in_directive = False
            at_line_start = True
        elif kind == "include":
            in_directive = True
            at_line_start = False
        elif kind == "comment":
            if "\n" in value and value.startswith("//"):
                pass  # a continued line comment: still the same logical line
        elif kind not in ("ws", "cont"):
            if at_line_start and value == "#":
                in_directive = True
            at_line_start = False
        append(Token(kind, value, m.start(), in_directive or kind == "include"))
    return tokens


def include_target(token_text: str) -> tuple[str, str]:
    """``('<', 'hip/hip_runtime.h')`` for an include token's text."""
    m = _INCLUDE_NAME_RE.search(token_text)
    if not m:
        return "", ""
    return m.group(1), m.group(2)


class LineIndex:
    """Character offset -> (line, column), both 1-based."""

    def __init__(self, text: str):
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def line_col(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._starts, offset) - 1
        return i + 1, offset - self._starts[i] + 1

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self._starts, offset)
