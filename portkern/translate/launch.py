"""Kernel launches: ``hipLaunchKernelGGL(k, grid, block, shmem, stream, args...)`` <-> ``k<<<...>>>(args)``."""

from __future__ import annotations

from portkern.translate.compat import insert_after_includes
from portkern.translate.source import NULL_LITERALS, SourceEdit


def _strip_kernel_name(text: str) -> str:
    text = text.strip()
    if text.startswith("HIP_KERNEL_NAME"):
        inner = text[len("HIP_KERNEL_NAME"):].strip()
        if inner.startswith("(") and inner.endswith(")"):
            text = inner[1:-1].strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


# hipLaunchKernelGGL(kernel, grid, block, shared bytes, stream, args...) as a macro that splits its
# arguments, for launch macros whose kernel and arguments arrive together in __VA_ARGS__ (the macro
# is expanded after __VA_ARGS__ is, so it sees them one by one).
LAUNCH_HELPER = """
#ifndef PORTKERN_LAUNCH_KERNEL
#define PORTKERN_LAUNCH_KERNEL(kernel_, grid_, block_, shared_bytes_, stream_, ...) \\
    kernel_<<<grid_, block_, shared_bytes_, stream_>>>(__VA_ARGS__)
#endif
"""


def ggl_to_chevron(src: SourceEdit) -> None:
    """Every hipLaunchKernelGGL call to ``kernel<<<...>>>(args)``; in a launch macro that forwards
    ``__VA_ARGS__``, to ``PORTKERN_LAUNCH_KERNEL`` (defined once after the includes)."""
    needs_helper = False
    for si in src.where("HIP_KERNEL_NAME", "hipLaunchKernelGGL", "hipExtLaunchKernelGGL"):
        t = src.stok(si)
        if src.stext(si + 1) != "(":
            continue
        if t.text == "HIP_KERNEL_NAME":
            close = src.match_close(si + 1)
            if close > 0:
                src.queue_span(si, close + 1, lambda a=si + 2, b=close: src.out_text(a, b).strip())
            continue
        close = src.match_close(si + 1)
        if close < 0:
            continue
        args = src.split_args(si + 1, close, angle_first=True)
        if t.text == "hipExtLaunchKernelGGL":
            _ext_launch(src, si, close, args)
            continue
        if len(args) < 5 and src.stok(si).directive and "__VA_ARGS__" in src.src_text(si, close + 1):
            # A launch macro passing its own arguments on: the kernel is not spelled out here, so the
            # launch goes through a macro that takes hipLaunchKernelGGL's arguments.
            src.queue_span(si, si + 1, lambda: "PORTKERN_LAUNCH_KERNEL")
            src.count("launch")
            needs_helper = True
            src.hazard(si, "launch-macro", "info",
                       "launch macro forwarding its arguments to hipLaunchKernelGGL: now expands to "
                       "PORTKERN_LAUNCH_KERNEL, which launches with <<<...>>>", fixed=True, span=(si, close + 1))
            continue
        if len(args) < 5:
            src.hazard(si, "launch-syntax", "error",
                       "hipLaunchKernelGGL needs kernel, grid, block, shared bytes and stream; fix the call",
                       span=(si, close + 1))
            continue
        src.queue_span(si, close + 1, _chevron_builder(src, args, close))
        src.count("launch")
    if needs_helper:
        insert_after_includes(src, LAUNCH_HELPER)


def _ext_launch(src: SourceEdit, si: int, close: int, args: list[tuple[int, int]]) -> None:
    """``hipExtLaunchKernelGGL(k, grid, block, shm, stream, start, stop, flags, args...)``: a launch that
    records ``start`` before and ``stop`` after it on the stream (null events are skipped)."""
    if len(args) < 8:
        src.hazard(si, "launch-syntax", "error", "hipExtLaunchKernelGGL needs kernel, grid, block, shared bytes, "
                   "stream, start and stop events and flags; fix the call", span=(si, close + 1))
        return
    launch = _chevron_builder(src, args[:5] + args[8:], close)
    start, stop, flags = (src.src_text(*a).strip() for a in args[5:8])
    if flags not in NULL_LITERALS:
        src.hazard(si, "launch-flags", "warning", f"hipExtLaunchKernelGGL flags {flags} have no CUDA counterpart "
                   "and are dropped", span=(si, close + 1))

    def build() -> str:
        stream = src.out_text(*args[4]).strip()

        def record(span: tuple[int, int]) -> list[str]:
            return [f"(void)cudaEventRecord({src.out_text(*span).strip()}, {stream})"]

        parts = ((record(args[5]) if start not in NULL_LITERALS else []) + [launch()]
                 + (record(args[6]) if stop not in NULL_LITERALS else []))
        return parts[0] if len(parts) == 1 else f"({', '.join(parts)})"
    src.queue_span(si, close + 1, build)
    src.count("launch")


def _chevron_builder(src: SourceEdit, args: list[tuple[int, int]], close: int):
    def build() -> str:
        kernel = _strip_kernel_name(src.out_text(*args[0]))
        grid, block, shmem, stream = (src.out_text(*a).strip() for a in args[1:5])
        rest = src.out_text(args[5][0], args[-1][1]).strip() if len(args) > 5 else ""
        return f"{kernel}<<<{grid}, {block}, {shmem}, {stream}>>>({rest})"
    return build


def chevron_to_ggl(src: SourceEdit) -> None:
    sig = src.sig
    n = len(sig)
    for si in src.where("<<<"):
        if si < 1:
            continue
        end = next((j for j in range(si + 1, n) if src.stexts[j] == ">>>"), -1)
        if end < 0 or end + 1 >= n or src.stexts[end + 1] != "(":
            continue
        call_close = src.match_close(end + 1)
        if call_close < 0:
            continue
        start = _kernel_expr_start(src, si)
        config = src.split_args(si, end)
        src.queue_span(start, call_close + 1, _ggl_builder(src, start, si, config, end + 1, call_close))
        src.count("launch")


def _kernel_expr_start(src: SourceEdit, chevron_si: int) -> int:
    """Walk back over ``ns::kernel<T, 4>`` to where the kernel expression starts."""
    j = chevron_si - 1
    while j >= 0:
        text = src.stext(j)
        if text in (">", ">>"):
            depth = 0
            while j >= 0:
                tx = src.stext(j)
                depth += 2 if tx == ">>" else 1 if tx == ">" else 0
                depth -= 1 if tx == "<" else 0
                if depth == 0:
                    break
                j -= 1
            j -= 1
            continue
        if src.stok(j).kind == "ident":
            if j > 0 and src.stext(j - 1) == "::":
                j -= 2
                continue
            return j
        if text == ")":  # (kernel) or (*fnptr)
            depth = 0
            while j >= 0:
                tx = src.stext(j)
                depth += 1 if tx == ")" else -1 if tx == "(" else 0
                if depth == 0:
                    return j
                j -= 1
        return j + 1
    return 0


def _ggl_builder(src: SourceEdit, start: int, chevron: int, config: list[tuple[int, int]], open_si: int,
                 close_si: int):
    def build() -> str:
        kernel = src.out_text(start, chevron).strip()
        if "<" in kernel:
            kernel = f"HIP_KERNEL_NAME({kernel})"
        parts = [src.out_text(*c).strip() for c in config]
        grid = parts[0] if parts else "1"
        block = parts[1] if len(parts) > 1 else "1"
        shmem = parts[2] if len(parts) > 2 else "0"
        stream = parts[3] if len(parts) > 3 else "0"
        args = src.out_text(open_si + 1, close_si).strip()
        tail = f", {args}" if args else ""
        return f"hipLaunchKernelGGL({kernel}, dim3({grid}), dim3({block}), {shmem}, {stream}{tail})"
    return build
