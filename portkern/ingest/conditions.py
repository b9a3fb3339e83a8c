"""Preprocessor configurations: choosing one branch of ``#if`` chains whose braces balance only per branch.

A parser that does not preprocess sees every branch of an ``#if`` chain. That is harmless (and
keeps the conditions in the units) while each branch is well formed on its own, but idioms such
as rocBLAS's batch loop open a scope in one chain and close it in the next::

    #if DEVICE_GRID_YZ_16BIT
        for(; batch < batch_count; batch += c_YZ_grid_launch_limit) {
    #endif
        ...
    #if DEVICE_GRID_YZ_16BIT
        }
    #endif

For such chains, and chains whose branch stops in the middle of a declaration (``explicit
__host__`` in one branch, ``explicit __host__ __device__`` in the other, the constructor after
``#endif``), ingest picks the branch one configuration compiles: the condition is evaluated
with the library's configuration macros (given in its manifest or read from its CMake) and the
values the tree's own ``#define``s give, a name defined nowhere counting as 0 the way the
preprocessor counts it. The other branches are blanked (same length, newlines kept), so offsets
and line numbers into the original text hold. Chains whose branches stand alone are left as
written (all branches parsed, their conditions kept in the units).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from portkern.ingest import macros as mac

# A name the configuration marks as not defined (``-U NAME`` in effect).
UNDEFINED = None

_DIRECTIVE = re.compile(rb"^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|elifdef|elifndef|else|endif)\b(.*)$")
_TOKEN = re.compile(r"\s*(?:(0[xX][0-9a-fA-F]+|\d+)[uUlL]*|([A-Za-z_]\w*)|(&&|\|\||==|!=|<=|>=|<<|>>|[()!<>+\-*/%?:~&|^,]))")


class Unknown(Exception):
    """The expression cannot be decided with what is known."""


@dataclass
class Configuration:
    """Macro values one build of a library uses, plus the tree's definitions to fall back on."""

    values: dict[str, str | None] = field(default_factory=dict)   # NAME -> replacement ("" = defined empty)
    table: mac.MacroTableIndex | None = None
    closed_world: bool = True        # names with no definition anywhere evaluate to 0

    def __post_init__(self) -> None:
        self._memo: dict[str, str | None] = {}
        self._busy: set[str] = set()

    def fingerprint(self) -> str:
        return repr(sorted(self.values.items(), key=lambda kv: kv[0])) + f":{self.closed_world}"

    # ------------------------------------------------------------------ lookups

    def value(self, name: str) -> str | None:
        """The replacement text of ``name`` in this configuration; None when it is not defined.

        Raises Unknown when the tree defines it in ways this configuration cannot tell apart.
        """
        if name in self.values:
            return self.values[name]
        if name in self._memo:
            return self._memo[name]
        defs = self.table.defs.get(name, []) if self.table is not None else []
        if not defs:
            if self.closed_world:
                return None
            raise Unknown(name)
        if name in self._busy:
            raise Unknown(name)
        self._busy.add(name)
        try:
            chosen: list[mac.MacroDef] = []
            for d in defs:
                if d.function_like:
                    raise Unknown(name)
                if not d.condition or self.evaluate(d.condition):
                    chosen.append(d)
            bodies = {d.body.strip() for d in chosen}
            if len(bodies) > 1:
                raise Unknown(name)
            result = bodies.pop() if bodies else None
        finally:
            self._busy.discard(name)
        self._memo[name] = result
        return result

    def evaluate(self, condition: str) -> bool:
        """Truth of an ``#if`` expression; raises Unknown when it cannot be decided."""
        tokens = _tokenize(mac.join_continuations(_strip_comments(condition)))
        parser = _Parser(tokens, self)
        value = parser.ternary()
        if parser.pos != len(tokens):
            raise Unknown(condition)
        return bool(value)


# --------------------------------------------------------------------------- expressions


def _strip_comments(text: str) -> str:
    return re.sub(r"/\*.*?\*/|//[^\n]*", " ", text, flags=re.S)


def _tokenize(text: str) -> list[str]:
    out = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise Unknown(text)
        out.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


_BINARY = [("||",), ("&&",), ("|",), ("^",), ("&",), ("==", "!="), ("<", ">", "<=", ">="), ("<<", ">>"),
           ("+", "-"), ("*", "/", "%")]


class _Parser:
    def __init__(self, tokens: list[str], config: Configuration, depth: int = 0):
        self.tokens = tokens
        self.pos = 0
        self.config = config
        self.depth = depth

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise Unknown(f"expected {expected or 'a token'}")
        self.pos += 1
        return tok

    def ternary(self) -> int:
        cond = self.binary(0)
        if self.peek() == "?":
            self.take("?")
            a = self.ternary()
            self.take(":")
            b = self.ternary()
            return a if cond else b
        return cond

    def binary(self, level: int) -> int:
        if level == len(_BINARY):
            return self.unary()
        left = self.binary(level + 1)
        while self.peek() in _BINARY[level]:
            op = self.take()
            right = self.binary(level + 1)
            left = _apply(op, left, right)
        return left

    def unary(self) -> int:
        tok = self.peek()
        if tok in ("!", "-", "+", "~"):
            self.take()
            v = self.unary()
            return {"!": lambda x: int(not x), "-": lambda x: -x, "+": lambda x: x, "~": lambda x: ~x}[tok](v)
        return self.primary()

    def primary(self) -> int:
        tok = self.take()
        if tok == "(":
            v = self.ternary()
            self.take(")")
            return v
        if tok[0].isdigit():
            return int(tok, 0) if not (tok.startswith("0") and len(tok) > 1 and tok[1].isdigit()) else int(tok, 8)
        if tok == "defined":
            paren = self.peek() == "("
            if paren:
                self.take("(")
            name = self.take()
            if paren:
                self.take(")")
            return int(self.config.value(name) is not None)
        if tok in ("true", "false"):
            return int(tok == "true")
        if self.peek() == "(":
            raise Unknown(f"function-like macro {tok}")     # __has_include(...), FOO(x)
        return self.macro_value(tok)

    def macro_value(self, name: str) -> int:
        body = self.config.value(name)
        if body is None:
            return 0
        if self.depth > 16 or not body.strip():
            raise Unknown(name)
        sub = _Parser(_tokenize(body), self.config, self.depth + 1)
        v = sub.ternary()
        if sub.pos != len(sub.tokens):
            raise Unknown(name)
        return v


def _apply(op: str, a: int, b: int) -> int:
    if op in ("/", "%") and b == 0:
        raise Unknown("division by zero")
    return {
        "||": lambda: int(bool(a) or bool(b)), "&&": lambda: int(bool(a) and bool(b)),
        "|": lambda: a | b, "^": lambda: a ^ b, "&": lambda: a & b,
        "==": lambda: int(a == b), "!=": lambda: int(a != b),
        "<": lambda: int(a < b), ">": lambda: int(a > b), "<=": lambda: int(a <= b), ">=": lambda: int(a >= b),
        "<<": lambda: a << b, ">>": lambda: a >> b, "+": lambda: a + b, "-": lambda: a - b,
        "*": lambda: a * b, "/": lambda: int(a / b), "%": lambda: a % b,
    }[op]()


# --------------------------------------------------------------------------- chains in a file


@dataclass
class _Branch:
    kind: str                # if | ifdef | ifndef | elif | elifdef | elifndef | else
    condition: str
    line: int                # index of the directive line
    end: int = -1            # index of the line that ends the branch (next directive of the chain)
    children: list[_Chain] = field(default_factory=list)


@dataclass
class _Chain:
    branches: list[_Branch] = field(default_factory=list)
    endif: int = -1


@dataclass
class Choice:
    """One chain ingest reduced to one branch."""

    line: int                # 1-based line of the chain's #if
    condition: str
    chosen: int              # index of the branch kept (-1: none)
    how: str                 # "configuration" | "first branch"


def _logical_lines(lines: list[bytes]) -> list[bytes]:
    """Each line joined with its continuations (the continuation lines themselves kept as they are)."""
    out = list(lines)
    i = 0
    while i < len(lines):
        j = i
        text = lines[i]
        while text.rstrip(b"\r").endswith(b"\\") and j + 1 < len(lines):
            j += 1
            text = text.rstrip(b"\r")[:-1] + b" " + lines[j]
        out[i] = text
        i = j + 1
    return out


def _parse_chains(lines: list[bytes]) -> list[_Chain]:
    joined = _logical_lines(lines)
    top: list[_Chain] = []
    stack: list[_Chain] = []
    in_comment = False
    for i, line in enumerate(joined):
        if in_comment:
            if b"*/" in line:
                in_comment = False
            continue
        m = _DIRECTIVE.match(line)
        if m is None:
            # a block comment opened on a code line and left open hides the directives below it
            if b"/*" in line and line.rfind(b"/*") > line.rfind(b"*/"):
                in_comment = True
            continue
        kind = m.group(1).decode()
        rest = _strip_comments(m.group(2).decode("latin-1")).strip()
        if kind in ("if", "ifdef", "ifndef"):
            chain = _Chain(branches=[_Branch(kind, rest, i)])
            (stack[-1].branches[-1].children if stack else top).append(chain)
            stack.append(chain)
        elif not stack:
            continue         # unbalanced directive: left to the parser to report
        elif kind == "endif":
            chain = stack.pop()
            chain.branches[-1].end = i
            chain.endif = i
        else:
            chain = stack[-1]
            chain.branches[-1].end = i
            chain.branches.append(_Branch(kind, rest, i))
    return top    # chains left open by a missing #endif are never closed: not touched


_BRACE_NOISE = re.compile(rb'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)


def _balance(lines: list[bytes], start: int, end: int) -> int:
    text = b"\n".join(ln for ln in lines[start:end] if not ln.lstrip().startswith(b"#"))
    text = _BRACE_NOISE.sub(b" ", text)
    return text.count(b"{") - text.count(b"}")


_TAIL_NOISE = re.compile(rb'//[^\n]*|/\*.*?\*/', re.S)


def _splits_declaration(lines: list[bytes], start: int, end: int) -> bool:
    """Whether the branch's code stops mid-declaration (``explicit HIP_HOST`` then ``#else``), which
    a parser reading every branch cannot put back together."""
    text = b"\n".join(ln for ln in lines[start:end] if not ln.lstrip().startswith(b"#"))
    text = _TAIL_NOISE.sub(b" ", text).rstrip()
    return bool(text) and text[-1:] not in (b";", b"{", b"}", b")", b":", b",", b"\\")


def _branch_condition(branch: _Branch) -> str:
    if branch.kind in ("ifdef", "elifdef"):
        return f"defined({branch.condition})"
    if branch.kind in ("ifndef", "elifndef"):
        return f"!defined({branch.condition})"
    return branch.condition


def _directive_end(lines: list[bytes], i: int) -> int:
    """Index of the first line after the directive at ``i`` (its continuation lines included)."""
    while i < len(lines) and lines[i].rstrip(b"\r").endswith(b"\\"):
        i += 1
    return i + 1


def select_branches(source: bytes, config: Configuration) -> tuple[bytes, list[Choice]]:
    """``source`` with each brace-unbalanced ``#if`` chain reduced to the branch ``config`` compiles.

    Returns the new text (same length, same line breaks) and the choices made.
    """
    if b"#" not in source:
        return source, []
    lines = source.split(b"\n")
    chains = _parse_chains(lines)
    blank: list[tuple[int, int]] = []      # [start, end) line ranges to blank
    choices: list[Choice] = []

    def visit(chain: _Chain) -> None:
        if chain.endif < 0:
            return
        unbalanced = any(_balance(lines, b.line + 1, b.end) != 0 or _splits_declaration(lines, b.line + 1, b.end)
                         for b in chain.branches)
        if not unbalanced:
            for b in chain.branches:
                for c in b.children:
                    visit(c)
            return
        chosen = -1
        how = "configuration"
        try:
            for k, b in enumerate(chain.branches):
                if b.kind == "else" or config.evaluate(_branch_condition(b)):
                    chosen = k
                    break
        except Unknown:
            chosen, how = 0, "first branch"
        choices.append(Choice(chain.branches[0].line + 1, _branch_condition(chain.branches[0]), chosen, how))
        for k, b in enumerate(chain.branches):
            body_start = _directive_end(lines, b.line)
            blank.append((b.line, body_start))
            if k != chosen:
                blank.append((body_start, b.end))
            else:
                for c in b.children:
                    visit(c)
        blank.append((chain.endif, _directive_end(lines, chain.endif)))

    for chain in chains:
        visit(chain)
    if not blank:
        return source, choices
    out = list(lines)
    for start, end in blank:
        for i in range(start, end):
            out[i] = re.sub(rb"[^\r]", b" ", lines[i]) if lines[i] else lines[i]
    return b"\n".join(out), choices
