"""Entry expressions (``"axpy_kernel<int, 256, float>"``): forcing their instantiation and
mapping them to the mangled symbols the compiler emitted."""

from __future__ import annotations

import re

from portkern.compile.process import find_tool, run_tool
from portkern.errors import CompileError, ToolMissingError

DEMANGLERS = ["llvm-cxxfilt", "llvm-cxxfilt-22", "llvm-cxxfilt-19", "c++filt", "cu++filt"]


def instantiation_block(entries: list[str]) -> str:
    """Host functions that take each entry kernel's address, so the compiler instantiates and emits it.

    Taking a kernel's address on the host side is what a launch does too: templates get instantiated,
    static (internal-linkage) kernels are kept, and host functions generate no device code.
    """
    if not entries:
        return ""
    lines = ["", "// entries requested by the build: force their instantiation"]
    for i, expr in enumerate(entries):
        lines.append(f"void portkern_entry_{i}() {{ (void)&{expr}; }}")
    return "\n".join(lines) + "\n"


def demangle(symbols: list[str]) -> dict[str, str]:
    """``{mangled: demangled}`` through the first demangler found on PATH."""
    if not symbols:
        return {}
    tool = find_tool(DEMANGLERS)
    if tool is None:
        raise ToolMissingError("a C++ demangler (llvm-cxxfilt or c++filt)", "mapping entry expressions to symbols",
                               "install binutils (c++filt) or llvm (llvm-cxxfilt), e.g. apt-get install binutils")
    run = run_tool([tool], stdin_text="\n".join(symbols) + "\n", timeout_s=60)
    lines = run.stdout.splitlines()
    if run.returncode != 0 or len(lines) != len(symbols):
        return {s: s for s in symbols}
    return dict(zip(symbols, lines))


_PUNCT = r"[<>,()*&\[\]:]"


def normalise(expr: str) -> str:
    """Canonical spelling: spaces kept only between two words, and a leading cv-qualifier moved
    behind its type as demanglers print it (``const float*`` -> ``float const*``)."""
    text = re.sub(r"\s+", " ", expr.strip())
    text = re.sub(rf"\s*({_PUNCT})\s*", r"\1", text)
    return re.sub(r"(^|[<,(])((?:const|volatile) )+([\w:]+(?: (?!const\b|volatile\b)[\w:]+)*)",
                  lambda m: f"{m.group(1)}{m.group(3)} {m.group(2).strip()}", text)


def _split_top_level_call(text: str) -> str:
    """``"void f<int, 2>(int, float*)"`` -> ``"f<int, 2>"``: drop the return type and parameters."""
    text = text.strip()
    if text.endswith(")"):
        depth = 0
        for i in range(len(text) - 1, -1, -1):
            c = text[i]
            if c == ")":
                depth += 1
            elif c == "(":
                depth -= 1
                if depth == 0:
                    text = text[:i]
                    break
    # Template functions demangle with their return type first ("void f<...>"); drop it at top level.
    depth = 0
    cut = 0
    for i, c in enumerate(text):
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == " " and depth == 0:
            cut = i + 1
    return text[cut:]


def kernel_name(demangled: str) -> str:
    return normalise(_split_top_level_call(demangled))


def _base_and_arity(name: str) -> tuple[str, int]:
    base, _, rest = name.partition("<")
    if not rest:
        return base, 0
    depth, arity = 0, 1
    for c in rest[:-1]:
        if c in "<(":
            depth += 1
        elif c in ">)":
            depth -= 1
        elif c == "," and depth == 0:
            arity += 1
    return base, arity


def match_entries(entries: list[str], symbols: list[str], *, log: str = "",
                  command: list[str] | None = None) -> dict[str, str]:
    """Map each entry expression to one of ``symbols`` by demangled name.

    Exact match after whitespace normalisation first; when a type alias in the expression
    (``rocblas_int``) hides the match, fall back to the unique kernel with the same name and
    number of template arguments.
    """
    names = {sym: kernel_name(dem) for sym, dem in demangle(symbols).items()}
    out: dict[str, str] = {}
    for expr in entries:
        want = normalise(expr)
        exact = [s for s, n in names.items() if n == want]
        if len(exact) == 1:
            out[expr] = exact[0]
            continue
        base, arity = _base_and_arity(want)
        close = [s for s, n in names.items() if _base_and_arity(n) == (base, arity)]
        if len(close) == 1:
            out[expr] = close[0]
            continue
        found = ", ".join(sorted(names.values())) or "none"
        raise CompileError(
            f"entry '{expr}' matches {len(exact) or len(close)} kernels in the binary, not one (kernels: {found})",
            log=log, command=command,
            hint="spell the entry as the kernel's name with concrete template arguments, as it demangles")
    return out
