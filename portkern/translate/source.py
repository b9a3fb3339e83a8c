"""An editable view of one source file: tokens, their replacement text, and span helpers."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from itertools import accumulate, compress

from portkern.translate.records import Hazard, SourceRegion
from portkern.translate.syntax import FunctionIndex, function_spans
from portkern.translate.tokens import (
    LineIndex,
    Token,
    directive_flags,
    kind_of,
    scan_significant,
    significant_flags,
    start_offsets,
    without_cyclic_gc,
)

_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {")", "]", "}"}
_IS_NUMBER = {"number": True}


# Spellings some rule has asked for the positions of (in any file of this process): a file's first question
# finds all of these it contains in one pass. Bounded: a long-lived process keeps it.
_ASKED: set[str] = set()
_ASKED_LIMIT = 200_000


class TextIndex(dict):
    """Spelling -> significant indices, in order. Every spelling of the file is a key from the start (so
    ``in``, ``keys()`` and iteration cost nothing extra); a spelling's positions are found the first time
    they are asked for, since the rules ask about a few dozen spellings per file, about a tenth of its
    tokens. Read it with ``[]``, ``get`` and the key views; ``values()`` and ``items()`` hold None for
    spellings not asked about yet."""

    __slots__ = ("_texts", "_batched", "_scans")

    def __init__(self, texts: list[str]):
        super().__init__(dict.fromkeys(texts))
        self._texts = texts
        self._batched = False
        self._scans = 0        # spellings found one at a time (a scan of the file each)

    def __getitem__(self, text: str) -> list[int]:
        found = dict.__getitem__(self, text)
        if found is None:
            found = self._find(text)
        return found

    def get(self, text: str, default=None):
        found = dict.get(self, text, default)
        if found is None and text in self:
            found = self._find(text)
        return found

    def fill(self, spellings) -> None:
        """Find the positions of all of ``spellings`` the file has, in one pass (for a pass that is about
        to ask about many)."""
        get = dict.get
        wanted = {t for t in spellings if get(self, t, 0) is None}
        if len(_ASKED) < _ASKED_LIMIT:
            _ASKED.update(wanted)
        if not self._batched:
            self._batch(wanted)
        else:
            self._collect(wanted)

    def _collect(self, wanted: set[str]) -> None:
        if not wanted:
            return
        texts = self._texts
        for t in wanted:
            dict.__setitem__(self, t, [])
        get = dict.__getitem__
        for si in compress(range(len(texts)), map(wanted.__contains__, texts)):
            get(self, texts[si]).append(si)

    def _batch(self, wanted: set[str] = frozenset()) -> None:
        """Every spelling asked about before (in this or an earlier file), in one pass over the tokens."""
        self._batched = True
        self._collect(self.keys() & _ASKED | wanted)

    def _find(self, text: str) -> list[int]:
        if not self._batched:
            self._batch()
            found = dict.__getitem__(self, text)
            if found is not None:
                return found
        if len(_ASKED) < _ASKED_LIMIT:
            _ASKED.add(text)
        if self._scans >= 8:
            # many spellings nobody asked about before: the rest of the index at once
            self._collect({t for t, found in dict.items(self) if found is None})
            return dict.__getitem__(self, text)
        self._scans += 1
        texts = self._texts
        found = list(compress(range(len(texts)), map(text.__eq__, texts)))
        dict.__setitem__(self, text, found)
        return found


# How a null pointer argument is spelled where rules test for one.
NULL_LITERALS = ("nullptr", "NULL", "0")


class SourceEdit:
    """Tokens of a file plus ``out``: the text each token becomes. Concatenating ``out`` is the result.

    Pattern matching walks ``sig`` (indices of tokens that are not whitespace or comments). Span
    rewrites are queued and applied innermost first, each building its text from the current ``out``,
    so nested rewrites (a launch whose kernel name is wrapped in HIP_KERNEL_NAME) compose.
    """

    def __init__(self, text: str, filename: str):
        self.text = text
        self.filename = filename
        # The significant tokens as parallel lists (text, kind, start offset, inside a directive) for fast
        # scans; ``stoks`` makes Token objects of them only when a rule asks for it.
        texts, significant, self.sig, self.stexts, self.skinds, self.include_tis, directives = \
            scan_significant(text)
        self._texts = texts
        self._directives = directives
        self._directive: list[bool] | None = None   # every token's directive flag: made on first use
        self._kinds: list[str] | None = None    # every token's kind: made on first use
        self._starts: list[int] | None = None   # every token's offset: made on first use
        self._toks: list[Token] | None = None
        self.out: list[str] = list(texts)
        self._sig_of: dict[int, int] | None = None
        self._significant = significant
        self._sstarts: list[int] | None = None
        self.sdirective: list[bool] = significant_flags(directives, self.sig)
        self._stoks: list[Token] | None = None
        # text -> significant indices, so a rule visits only the tokens it is about
        self.by_text: dict[str, list[int]] = TextIndex(self.stexts)
        self._number_texts: dict[str, None] | None = None
        self._number_lines: str | None = None
        self._device_words: bool | None = None
        self._lines: LineIndex | None = None
        self._functions: FunctionIndex | None = None
        self._span_rewrites: list[tuple[int, int, Callable[[], str]]] = []
        self.hazards: list[Hazard] = []
        self.counts: dict[str, int] = {}
        self._line_list: list[str] | None = None
        self.prefix = ""        # text put before the whole file (span rewrites cannot overwrite it)

    # ------------------------------------------------------------------ lookups

    @property
    def stoks(self) -> list[Token]:
        """The significant tokens as Token objects (made on first use: the common passes read the
        parallel lists ``stexts``, ``skinds``, ``sstarts``, ``sdirective`` instead)."""
        if self._stoks is None:
            with without_cyclic_gc():
                self._stoks = list(map(Token, self.skinds, self.stexts, self.sstarts, self.sdirective))
        return self._stoks

    @property
    def lines(self) -> LineIndex:
        """Offset -> line and column (made on first use: a file with nothing to report never needs it)."""
        if self._lines is None:
            self._lines = LineIndex(self.text)
        return self._lines

    @property
    def sstarts(self) -> list[int]:
        """Where each significant token starts (made on first use: a file with nothing to report about
        never needs it)."""
        if self._sstarts is None:
            if self._starts is not None:
                self._sstarts = list(compress(self._starts, self._significant))
            else:
                self._sstarts = list(compress(accumulate(map(len, self._texts), initial=0), self._significant))
        return self._sstarts

    @property
    def starts(self) -> list[int]:
        """Where every token starts (made on first use: the rules need only ``sstarts``)."""
        if self._starts is None:
            self._starts = start_offsets(self._texts)
        return self._starts

    @property
    def directive(self) -> list[bool]:
        """Every token's inside-a-directive flag (made on first use: the rules need only ``sdirective``)."""
        if self._directive is None:
            self._directive = directive_flags(self._directives, len(self._texts))
        return self._directive

    @property
    def kinds(self) -> list[str]:
        """Every token's kind (made on first use: the rules need only ``skinds``)."""
        if self._kinds is None:
            self._kinds = list(map(kind_of, self._texts))
        return self._kinds

    @property
    def toks(self) -> list[Token]:
        """Every token, whitespace and comments included (made on first use; the rules need only ``stoks``)."""
        if self._toks is None:
            with without_cyclic_gc():
                toks = list(map(Token, self.kinds, self._texts, self.starts, self.directive))
            stoks = self.stoks
            for si, ti in enumerate(self.sig):
                toks[ti] = stoks[si]
            self._toks = toks
        return self._toks

    def token_text(self, ti: int) -> str:
        """The source text of token number ``ti``."""
        return self._texts[ti]

    def token(self, ti: int) -> Token:
        """Token number ``ti`` (an index into ``toks``/``out``)."""
        si = bisect_left(self.sig, ti)
        if si < len(self.sig) and self.sig[si] == ti:
            return self.stok(si)
        if self._toks is not None:
            return self._toks[ti]
        return Token(kind_of(self._texts[ti]), self._texts[ti], self.starts[ti], self.directive[ti])

    @property
    def sig_of(self) -> dict[int, int]:
        """Token index -> significant index (built on first use: few rules need it)."""
        if self._sig_of is None:
            self._sig_of = {ti: si for si, ti in enumerate(self.sig)}
        return self._sig_of

    @property
    def functions(self) -> FunctionIndex:
        if self._functions is None:
            self._functions = FunctionIndex(function_spans(self.text))
        return self._functions

    def where(self, *texts: str) -> list[int]:
        """Significant indices of tokens spelled as any of ``texts``, in source order."""
        if len(texts) == 1:
            return self.by_text.get(texts[0], [])
        self.fill_positions(texts)
        found: list[int] = []
        for t in texts:
            found.extend(self.by_text.get(t, ()))
        found.sort()
        return found

    def fill_positions(self, texts) -> None:
        """About to ask ``by_text`` for many of ``texts``: find them all in one pass."""
        if isinstance(self.by_text, TextIndex):
            self.by_text.fill(texts)

    def where_any(self, texts) -> list[int]:
        """Like ``where`` for a collection of spellings (a set or dict)."""
        by_text = self.by_text
        keys = [t for t in texts if t in by_text] if len(texts) < len(by_text) else [k for k in by_text if k in texts]
        if len(keys) > 1:
            self.fill_positions(keys)
        found: list[int] = []
        for k in keys:
            found.extend(by_text[k])
        found.sort()
        return found

    def numbers(self) -> list[int]:
        """Significant indices of the number tokens."""
        return list(compress(range(len(self.skinds)), map("number".__eq__, self.skinds)))

    def number_texts(self) -> dict[str, None]:
        """The distinct spellings of the file's number tokens, in order of first use."""
        if self._number_texts is None:
            # the kinds of the distinct spellings (far fewer than the tokens) from the tokenizer's cache
            spellings = list(self.by_text)
            self._number_texts = dict.fromkeys(compress(spellings, map(_IS_NUMBER.get, map(kind_of, spellings))))
        return self._number_texts

    def number_lines(self) -> str:
        """``number_texts`` joined by newlines (for a regex scan of them all at once)."""
        if self._number_lines is None:
            self._number_lines = "\n".join(self.number_texts())
        return self._number_lines

    def in_device_code(self, line: int) -> bool:
        """Is ``line`` inside a __global__ or __device__ function? A file that spells neither word has none,
        and is not parsed to find that out."""
        if self._device_words is None:
            self._device_words = "__global__" in self.text or "__device__" in self.text
        return self._device_words and self.functions.in_device_code(line)

    def stok(self, si: int) -> Token | None:
        """Significant token number ``si`` (None past either end)."""
        if 0 <= si < len(self.stexts):
            if self._stoks is not None:
                return self._stoks[si]
            return Token(self.skinds[si], self.stexts[si], self.sstarts[si], self.sdirective[si])
        return None

    def send(self, si: int) -> int:
        """Offset just past significant token ``si``."""
        return self.sstarts[si] + len(self.stexts[si])

    def skind(self, si: int) -> str:
        """Kind of significant token ``si`` ("" past either end)."""
        if 0 <= si < len(self.skinds):
            return self.skinds[si]
        return ""

    def stext(self, si: int) -> str:
        if si >= 0:
            try:
                return self.stexts[si]
            except IndexError:
                return ""
        return ""

    def line_of(self, si: int) -> int:
        return self.lines.line(self.sstarts[si])

    def match_close(self, open_si: int) -> int:
        """Significant index of the bracket closing the one at ``open_si`` (-1 if unbalanced)."""
        depth = 0
        texts = self.stexts
        for si in range(open_si, len(texts)):
            text = texts[si]
            if text in _OPEN:
                depth += 1
            elif text in _CLOSE:
                depth -= 1
                if depth == 0:
                    return si
        return -1

    def split_args(self, open_si: int, close_si: int, *, angle_first: bool = False) -> list[tuple[int, int]]:
        """Argument spans ``[start, end)`` in significant indices between brackets at depth 0.

        ``angle_first`` treats ``<...>`` after a leading identifier as brackets, so a templated
        kernel name with commas stays one argument.
        """
        args: list[tuple[int, int]] = []
        depth = 0
        angle = 0
        start = open_si + 1
        if start == close_si:
            return args
        texts = self.stexts
        for si in range(open_si + 1, close_si):
            text = texts[si]
            if text in _OPEN:
                depth += 1
            elif text in _CLOSE:
                depth -= 1
            elif angle_first and not args and depth == 0:
                if text == "<" and si > open_si + 1 and self.skinds[si - 1] == "ident":
                    angle += 1
                elif text == ">" and angle:
                    angle -= 1
                elif text == ">>" and angle:
                    angle = max(0, angle - 2)
            if text == "," and depth == 0 and angle == 0:
                args.append((start, si))
                start = si + 1
        args.append((start, close_si))
        return args

    def out_text(self, si_start: int, si_end: int) -> str:
        """Current text of significant tokens ``[si_start, si_end)`` including trivia between them."""
        if si_start >= si_end:
            return ""
        a = self.sig[si_start]
        b = self.sig[si_end - 1] + 1
        return "".join(self.out[a:b])

    def src_text(self, si_start: int, si_end: int) -> str:
        if si_start >= si_end:
            return ""
        return self.text[self.sstarts[si_start]:self.sstarts[si_end - 1] + len(self.stexts[si_end - 1])]

    # ------------------------------------------------------------------ edits

    def set_token(self, si: int, text: str) -> None:
        self.out[self.sig[si]] = text

    def queue_span(self, si_start: int, si_end: int, build: Callable[[], str]) -> None:
        """Replace significant tokens ``[si_start, si_end)`` (and trivia between) by ``build()``."""
        self._span_rewrites.append((si_start, si_end, build))

    def apply_spans(self) -> None:
        for si_start, si_end, build in sorted(self._span_rewrites, key=lambda r: (-r[0], r[1])):
            text = build()
            a = self.sig[si_start]
            b = self.sig[si_end - 1] + 1
            self.out[a] = text
            for i in range(a + 1, b):
                self.out[i] = ""
        self._span_rewrites.clear()

    def result_text(self) -> str:
        return self.prefix + "".join(self.out)

    def count(self, category: str, n: int = 1) -> None:
        self.counts[category] = self.counts.get(category, 0) + n

    # ------------------------------------------------------------------ findings

    def hazard(self, si: int, kind: str, severity: str, message: str, *, fixed: bool = False,
               span: tuple[int, int] | None = None) -> Hazard:
        line, col = self.lines.line_col(self.sstarts[si])
        start_si, end_si = span if span else (si, si + 1)
        start_line = self.line_of(start_si)
        end_line = self.line_of(max(start_si, end_si - 1))
        fn = self.functions.at(line)
        region = SourceRegion(file=self.filename, start_line=start_line, end_line=end_line,
                              text=self.source_lines(start_line, end_line), function=fn.name if fn else "")
        h = Hazard(file=self.filename, line=line, col=col, kind=kind, severity=severity, message=message,
                   fixed=fixed, region=region)
        self.hazards.append(h)
        return h

    def source_lines(self, first: int, last: int) -> str:
        if self._line_list is None:
            self._line_list = self.text.splitlines()
        return "\n".join(self._line_list[first - 1:last])

    def _directive_bounds(self, si: int) -> tuple[int, int]:
        """The run of significant tokens forming the directive that contains ``si``."""
        texts, directive = self.stexts, self.sdirective
        start = si
        while start > 0 and texts[start] != "#" and directive[start - 1]:
            start -= 1
        end = si + 1
        while end < len(texts) and directive[end] and texts[end] != "#":
            end += 1
        return start, end

    def statement_end(self, si: int) -> int:
        """Significant index just past the ';' ending the statement containing ``si`` (or line end)."""
        texts, directive = self.stexts, self.sdirective
        if directive[si]:
            return self._directive_bounds(si)[1]
        depth = 0
        for j in range(si, len(texts)):
            if directive[j]:
                return j
            text = texts[j]
            if text in _OPEN:
                depth += 1
            elif text in _CLOSE:
                depth -= 1
                if depth < 0:
                    return j
            elif text == ";" and depth <= 0:
                return j + 1
        return len(self.sig)

    def statement_start(self, si: int) -> int:
        texts, directive = self.stexts, self.sdirective
        if 0 <= si < len(texts) and directive[si]:
            return self._directive_bounds(si)[0]
        depth = 0
        for j in range(si - 1, -1, -1):
            if directive[j]:
                return j + 1
            text = texts[j]
            if text in _CLOSE:
                depth += 1
            elif text in _OPEN:
                depth -= 1
                if depth < 0:
                    return j + 1
            elif text in (";", "{", "}") and depth <= 0:
                return j + 1
        return 0
