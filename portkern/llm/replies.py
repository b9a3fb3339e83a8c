"""Checking a model's reply before anything is compiled.

A reply is accepted only if it holds exactly one fenced code block of device code that keeps the
kernel's name, template parameters and parameter list. Host code, ``main``, system/file/process
calls and includes outside the allow-list are rejected with the reason, which is recorded.

The filter is a first line only: text patterns can be evaded (token pasting, function pointers), so
whatever passes still runs only in the sandboxed worker (``portkern.worker``). Every scan here is
linear in the reply's length, and any Unicode (lone surrogates included) is accepted as text.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from portkern.llm.client import ReplyVerdict

# Headers device code may include (the cross-component header contract).
ALLOWED_INCLUDES: dict[str, tuple[str, ...]] = {
    "hip": ("hip/hip_runtime.h", "hip/hip_fp16.h", "hip/hip_cooperative_groups.h"),
    "cuda": ("cuda_runtime.h", "cuda_fp16.h", "cuda_bf16.h", "cooperative_groups.h",
             "cooperative_groups/reduce.h"),
}
COMMON_INCLUDES = ("cstdint", "cfloat", "climits", "cmath", "type_traits")

# (pattern on code with comments and strings removed, reason). Host runtime calls, launches,
# processes, files, threads, dynamic loading: a model's code is only ever compiled as device code.
FORBIDDEN: tuple[tuple[str, str], ...] = (
    (r"\bmain\s*\(", "defines or calls main"),
    (r"\b(?:std::)?system\s*\(", "calls system()"),
    (r"\b_?popen\s*\(", "calls popen()"),
    (r"\b(?:fopen|freopen|fdopen|open|creat|unlink|remove|rename)\s*\(", "opens or changes files"),
    (r"\bexec(?:l|lp|le|v|vp|vpe|ve)\s*\(", "calls exec*()"),
    (r"\b(?:fork|vfork|clone|posix_spawn|kill|syscall|dlopen|dlsym)\s*\(", "calls process/system functions"),
    (r"\bstd::(?:thread|jthread|async|ofstream|ifstream|fstream|filesystem)\b", "uses host threads or files"),
    (r"\bpthread_\w+\s*\(", "uses host threads"),
    (r"<<<", "launches a kernel (host code)"),
    (r"\b(?:hip|cuda)[A-Z]\w*\s*\(", "calls the host runtime API"),
    (r"\b(?:malloc|calloc|realloc|getenv|setenv)\s*\(", "calls host memory/environment functions"),
    (r"\bstd::(?:cout|cerr|cin)\b", "uses host streams"),
)

_FENCE_OPEN = re.compile(r"[ \t]*```[ \t]*([\w+#.-]*)[ \t]*")
_FENCE_CLOSE = re.compile(r"[ \t]*```[ \t]*")
_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*[<"]([^>"\n]+)[>"]', re.M)
# Comments and literals; an unterminated one runs to the end of its line (strings) or of the text
# (block comments), so every match succeeds where it starts and the scan stays linear.
_COMMENT_OR_LITERAL = re.compile(r'//[^\n]*|/\*.*?(?:\*/|\Z)|"(?:\\.|[^"\\\n])*(?:"|(?=\n)|\Z)'
                                 r"|'(?:\\.|[^'\\\n])*(?:'|(?=\n)|\Z)", re.S)
_DEVICE_WORDS = ("__global__", "__device__", "constexpr", "__forceinline__")
_RESTRICT = re.compile(r"\b(?:__restrict__|__restrict|restrict)\b")


@dataclass
class KernelSignature:
    name: str
    template: str                         # normalised template parameter list ("" = not a template)
    params: list[str]                     # normalised parameter declarations, in order

    def describe(self) -> str:
        head = f"template {self.template} " if self.template else ""
        return f"{head}{self.name}({', '.join(self.params)})"


def as_text(text: str) -> str:
    """``text`` with anything UTF-8 cannot encode (lone surrogates) replaced, so every later step
    (parsing, hashing, writing files) can encode it."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def _fenced_blocks(text: str) -> list[str]:
    """Bodies of the fenced blocks (a line of ``` with an optional language, to a line of ```)."""
    blocks: list[str] = []
    body: list[str] | None = None
    for line in text.split("\n"):
        if body is None:
            if _FENCE_OPEN.fullmatch(line):
                body = []
        elif _FENCE_CLOSE.fullmatch(line):
            blocks.append("".join(part + "\n" for part in body))
            body = None
        else:
            body.append(line)
    return blocks


def extract_code_block(text: str) -> tuple[str, str]:
    """(code, "") for exactly one fenced block, else ("", reason)."""
    blocks = _fenced_blocks(as_text(text))
    if not blocks:
        return "", "no fenced code block in the reply"
    if len(blocks) > 1:
        return "", f"{len(blocks)} fenced code blocks in the reply; exactly one is expected"
    return blocks[0], ""


def strip_comments_and_strings(code: str, *, keep_strings: bool = False) -> str:
    """Code with comments (and string/char literals) blanked, so patterns only match real code."""
    pattern = _COMMENT_OR_LITERAL

    def blank(m: re.Match) -> str:
        text = m.group(0)
        if text.startswith(("//", "/*")):
            return " "
        return text if keep_strings else ('""' if text.startswith('"') else "' '")

    return pattern.sub(blank, code)


def _norm(text: str) -> str:
    text = _RESTRICT.sub(" ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s*([*&,<>()\[\]=])\s*", r"\1", text)


@lru_cache(maxsize=1)
def _parser():
    import tree_sitter
    import tree_sitter_cuda

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_cuda.language()))


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _function_name(fn_node) -> tuple[str, object | None]:
    decl = fn_node.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    if decl is None:
        return "", None
    ident = decl.child_by_field_name("declarator")
    return (ident.text.decode() if ident is not None else ""), decl


# Error recovery on garbage makes tree-sitter superlinear: a parse that takes longer is abandoned.
PARSE_SECONDS = 2.0
# A kernel unit is a few KB; a reply's code block beyond this is rejected before parsing.
MAX_CODE_CHARS = 200_000


class ParseTimeout(Exception):
    pass


def _parse(data: bytes):
    deadline = time.monotonic() + PARSE_SECONDS
    try:
        return _parser().parse(lambda offset, _point: data[offset: offset + 65536],
                               progress_callback=lambda *_state: time.monotonic() > deadline)
    except ValueError as exc:  # the parse was cancelled
        raise ParseTimeout(f"the code could not be parsed within {PARSE_SECONDS:g} s") from exc


@lru_cache(maxsize=8)
def _functions(code: str):
    """Every function definition: (name, declarator node, definition node, specifier text)."""
    tree = _parse(code.encode())
    out = []
    for node in _walk(tree.root_node):
        if node.type != "function_definition":
            continue
        name, decl = _function_name(node)
        if not name:
            continue
        head = code.encode()[node.start_byte:decl.start_byte].decode(errors="replace")
        parent = node.parent
        if parent is not None and parent.type == "template_declaration":
            head = code.encode()[parent.start_byte:decl.start_byte].decode(errors="replace")
        out.append((name, decl, node, head))
    return tuple(out)


def kernel_signature(code: str, symbol: str) -> KernelSignature | None:
    """The signature of the function ``symbol`` as the parser sees it (the last definition wins)."""
    found = None
    for name, decl, node, _head in _functions(code):
        if name.split("::")[-1] != symbol:
            continue
        params_node = decl.child_by_field_name("parameters")
        params = [_norm(p.text.decode()) for p in params_node.named_children
                  if p.type in ("parameter_declaration", "optional_parameter_declaration",
                                "variadic_parameter_declaration")] if params_node else []
        template = ""
        parent = node.parent
        if parent is not None and parent.type == "template_declaration":
            tparams = parent.child_by_field_name("parameters")
            template = _norm(tparams.text.decode()) if tparams is not None else ""
        found = KernelSignature(name=symbol, template=template, params=params)
    return found


def _host_functions(code: str, extra_device_words: tuple[str, ...]) -> set[str]:
    words = _DEVICE_WORDS + extra_device_words
    return {name for name, _d, _n, head in _functions(code) if not any(w in head for w in words)}


def check_reply(text: str, *, symbol: str, original: str, dialect: str,
                device_macros: tuple[str, ...] = ()) -> ReplyVerdict:
    """Accept or reject a model reply for a unit whose kernel is ``symbol``.

    ``original`` is the unit the model was shown: its kernel signature must be kept, and host-side
    functions it already had (rare; e.g. constexpr-less helpers) are not counted against the reply.
    ``device_macros`` are library macros that expand to device qualifiers (the manifest's macro table).
    """
    text, original = as_text(text), as_text(original)
    code, reason = extract_code_block(text)
    if reason:
        return ReplyVerdict(False, reason)
    if not code.strip():
        return ReplyVerdict(False, "the code block is empty")
    if len(code) > MAX_CODE_CHARS:
        return ReplyVerdict(False, f"the code block has {len(code)} characters; the limit is {MAX_CODE_CHARS}")
    bare = strip_comments_and_strings(code)
    for pattern, why in FORBIDDEN:
        hit = re.search(pattern, bare)
        if hit:
            return ReplyVerdict(False, f"{why}: `{hit.group(0).strip()}`")
    allowed = ALLOWED_INCLUDES.get(dialect, ()) + COMMON_INCLUDES
    for header in _INCLUDE.findall(strip_comments_and_strings(code, keep_strings=True)):
        if header not in allowed:
            return ReplyVerdict(False, f"includes <{header}>, which is outside the allow-list ({', '.join(allowed)})")
    try:
        return _check_parsed(code, symbol=symbol, original=original, device_macros=device_macros)
    except ParseTimeout as exc:
        return ReplyVerdict(False, f"{exc}; a kernel unit parses in well under a second")


def _check_parsed(code: str, *, symbol: str, original: str, device_macros: tuple[str, ...]) -> ReplyVerdict:
    want = kernel_signature(original, symbol)
    got = kernel_signature(code, symbol)
    if got is None:
        return ReplyVerdict(False, f"the kernel `{symbol}` is missing from the reply")
    if want is not None:
        if want.template != got.template:
            return ReplyVerdict(False, f"the template parameters of `{symbol}` changed: "
                                       f"{want.template or '(none)'} -> {got.template or '(none)'}")
        if want.params != got.params:
            return ReplyVerdict(False, f"the parameter list of `{symbol}` changed: "
                                       f"({', '.join(want.params)}) -> ({', '.join(got.params)})")
    new_host = _host_functions(code, device_macros) - _host_functions(original, device_macros)
    if new_host:
        return ReplyVerdict(False, f"defines host function(s) {', '.join(sorted(new_host))}; "
                                   "only __global__/__device__ code is accepted")
    return ReplyVerdict(True, "", code if code.endswith("\n") else code + "\n")


def reply_checker(*, symbol: str, original: str, dialect: str,
                  device_macros: tuple[str, ...] = ()) -> Callable[[str], ReplyVerdict]:
    """A check for LLMClient.ask(check=...)."""
    return lambda text: check_reply(text, symbol=symbol, original=original, dialect=dialect,
                                    device_macros=device_macros)
