"""Preparing a kernel unit for the host compiler: dynamic shared memory and launch stubs."""

from __future__ import annotations

import re

from portkern.errors import CompileError

STUB_PREFIX = "portkern_launch_"
SIGNATURE_PREFIX = "portkern_signature_"
# Frees the fiber stacks the build keeps between launches (called when a session is done with it).
RELEASE_SYMBOL = "portkern_release_fibers"

# `extern __shared__ [__align__(n)|alignas(n)] T name[];` (attributes may also follow `extern`).
_EXTERN_SHARED = re.compile(
    r"extern\s+(?:(?:__align__|alignas|__attribute__)\s*\((?:[^()]|\([^()]*\))*\)\s*)*__shared__\s+"
    r"(?:(?:__align__|alignas|__attribute__)\s*\((?:[^()]|\([^()]*\))*\)\s*)*"
    r"(?P<type>[A-Za-z_](?:[\w:<>, ]*?[\w>*])?)\s+(?:(?:__align__|alignas)\s*\(\s*\d+\s*\)\s*)?"
    r"(?P<name>[A-Za-z_]\w*)\s*\[\s*\]\s*(?:__attribute__\s*\(\([^)]*\)\)\s*)?;"
)


def _brace_depth_at(text: str, pos: int) -> int:
    """Brace depth at ``pos``, skipping comments and string/char literals."""
    depth = 0
    i = 0
    n = min(pos, len(text))
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            continue
        if c in "\"'":
            j = i + 1
            while j < len(text) and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            i = j + 1
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        i += 1
    return depth


def rewrite_dynamic_shared(source: str, file_name: str = "kernel.cu") -> str:
    """Turn ``extern __shared__ T name[];`` into a pointer to the launch's dynamic shared memory.

    Inside a function it becomes a local pointer; at namespace scope a macro, since the pointer must
    be read at run time, per block. Line numbers are kept so compiler messages point at the source.
    """
    out: list[str] = []
    last = 0
    for m in _EXTERN_SHARED.finditer(source):
        out.append(source[last:m.start()])
        t, name = m.group("type").strip(), m.group("name")
        if _brace_depth_at(source, m.start()) > 0:
            out.append(f"PORTKERN_EMU_DYNAMIC_SHARED({t}, {name});" + "\n" * m.group(0).count("\n"))
        else:
            line_after = source.count("\n", 0, m.end()) + 1
            out.append(f"\n#define {name} (reinterpret_cast<{t}*>(::portkern_emu::detail::dynamic_shared()))\n"
                       f'#line {line_after} "{file_name}"\n')
        last = m.end()
    out.append(source[last:])
    return "".join(out)


def _kernel_expression_start(text: str, end: int) -> int:
    """Start of the kernel name expression that ends at ``end`` (e.g. ``ns::k<T, 4>``)."""
    i = end
    while i > 0 and text[i - 1].isspace():
        i -= 1
    if i > 0 and text[i - 1] == ">":
        depth = 0
        while i > 0:
            i -= 1
            if text[i] == ">":
                depth += 1
            elif text[i] == "<":
                depth -= 1
                if depth == 0:
                    break
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_:"):
        i -= 1
    return i


def rewrite_chevron_launches(source: str) -> str:
    """``k<<<g, b, s, st>>>(args)`` -> ``::portkern_emu::chevron(k, "k", g, b, s, st)(args)``.

    Whole CUDA library files carry host launchers in this syntax; on the emulator they compile and,
    if called, launch the kernel synchronously.
    """
    out: list[str] = []
    last = 0
    pos = source.find("<<<")
    while pos >= 0:
        close = source.find(">>>", pos + 3)
        if close < 0:
            break
        start = _kernel_expression_start(source, pos)
        kernel = source[start:pos].strip()
        if not kernel or start < last:
            pos = source.find("<<<", pos + 3)
            continue
        config = source[pos + 3:close]
        quoted = kernel.replace('"', "")
        out.append(source[last:start])
        out.append(f'::portkern_emu::chevron(({kernel}), "{quoted}", {config})')
        last = close + 3
        pos = source.find("<<<", last)
    out.append(source[last:])
    return "".join(out)


def _check_entry(expr: str, name: str) -> None:
    if not re.fullmatch(r"[A-Za-z_:][\w:]*\s*(<.*>)?", expr.strip(), flags=re.S) or "\n" in expr:
        raise CompileError(f"{name}: entry '{expr}' is not a kernel name expression",
                           hint='write entries like "axpy_kernel<int, 256, float>" or "my_kernel"')


def launch_stubs(entries: list[str], name: str) -> tuple[str, dict[str, str]]:
    """C++ that forces each entry's instantiation and exports a launcher and a signature for it."""
    lines = ["", "// ---- portkern emulator launch stubs (generated) ----"]
    entry_map: dict[str, str] = {}
    for i, expr in enumerate(entries):
        _check_entry(expr, name)
        symbol = f"{STUB_PREFIX}{i}"
        entry_map[expr] = symbol
        quoted = expr.replace("\\", "\\\\").replace('"', '\\"')
        lines += [
            f'extern "C" __attribute__((visibility("default"))) int {symbol}(void** args, const unsigned* grid,',
            "    const unsigned* block, unsigned long long shared_bytes, char* err, unsigned long long err_len) {",
            f'  return ::portkern_emu::detail::launch_from_stub(&{expr}, "{quoted}", args, grid, block,',
            "                                                  shared_bytes, err, err_len);",
            "}",
            f'extern "C" __attribute__((visibility("default"))) const char* {SIGNATURE_PREFIX}{i}() {{',
            f"  return ::portkern_emu::detail::signature_of(&{expr});",
            "}",
        ]
    lines += [
        f'extern "C" __attribute__((visibility("default"))) void {RELEASE_SYMBOL}() {{',
        "  ::portkern_emu::detail::Pool::instance().release_fibers();",
        "}",
    ]
    return "\n".join(lines) + "\n", entry_map


def build_unit(source: str, entries: list[str], name: str) -> tuple[str, dict[str, str]]:
    """The full translation unit: runtime header, the (rewritten) source, the stubs."""
    stubs, entry_map = launch_stubs(entries, name)
    body = rewrite_chevron_launches(rewrite_dynamic_shared(source, f"{name}.cu"))
    unit = '#include "portkern_emu/runtime.h"\n#line 1 "' + name + '.cu"\n' + body
    if not unit.endswith("\n"):
        unit += "\n"
    return unit + stubs, entry_map
