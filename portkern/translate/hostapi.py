"""Host-API call shapes that differ between the runtimes even where the names map one to one.

* Symbol APIs (``cudaMemcpyToSymbol(sym, ...)``): HIP takes the symbol through ``HIP_SYMBOL(sym)``
  (``&sym`` on AMD, ``sym`` on NVIDIA), so the call is portable; HIP -> CUDA drops the wrapper.
* Function-attribute APIs (``cudaFuncSetAttribute(kernel, ...)``): CUDA has a template overload taking
  the kernel itself, HIP only ``const void*``, so a kernel defined earlier in the file gets
  ``reinterpret_cast<const void*>``.
* Thrust execution policies: ``thrust::cuda::par`` is ``thrust::hip::par`` in rocThrust.
"""

from __future__ import annotations

from portkern.translate.source import SourceEdit

# HIP function name -> index of its symbol argument.
SYMBOL_ARG = {
    "hipMemcpyToSymbol": 0, "hipMemcpyToSymbolAsync": 0, "hipMemcpyFromSymbol": 1,
    "hipMemcpyFromSymbolAsync": 1, "hipGetSymbolAddress": 1, "hipGetSymbolSize": 1,
}
# HIP function name -> index of its kernel (const void*) argument.
KERNEL_ARG = {
    "hipFuncSetAttribute": 0, "hipFuncGetAttributes": 1, "hipFuncSetCacheConfig": 0,
    "hipFuncSetSharedMemConfig": 0, "hipLaunchCooperativeKernel": 0,
}


def kernels_above(src: SourceEdit, line: int) -> set[str]:
    return {f.name.split("::")[-1] for f in src.functions.spans if f.is_kernel and f.end_line < line}


def _call_args(src: SourceEdit, si: int) -> tuple[int, list[tuple[int, int]]] | None:
    if src.stext(si + 1) != "(" or src.stext(si - 1) in (".", "->", "::"):
        return None
    close = src.match_close(si + 1)
    if close < 0:
        return None
    return close, src.split_args(si + 1, close, angle_first=False)


def _arg_is_already_wrapped(src: SourceEdit, span: tuple[int, int], wrappers: tuple[str, ...]) -> bool:
    return src.stext(span[0]) in wrappers


def host_calls_to_hip(src: SourceEdit) -> None:
    """Runs after the token renames, so the calls are already spelled the HIP way in ``out``."""
    sig, out = src.sig, src.out
    for si in range(len(sig)):
        name = out[sig[si]]
        if name in SYMBOL_ARG or name in KERNEL_ARG:
            call = _call_args(src, si)
            if call is None:
                continue
            _, args = call
            index = SYMBOL_ARG.get(name, KERNEL_ARG.get(name))
            if index >= len(args) or args[index][0] >= args[index][1]:
                continue
            span = args[index]
            if name in SYMBOL_ARG:
                if _arg_is_already_wrapped(src, span, ("HIP_SYMBOL", "&")):
                    continue
                src.queue_span(span[0], span[1], lambda s=span: f"HIP_SYMBOL({src.out_text(*s).strip()})")
            else:
                # only names seen defined as kernels above the call: HIP's const void* parameter needs
                # the cast for them, while anything else may already be a pointer
                kernel = src.stext(span[0])
                if kernel not in kernels_above(src, src.line_of(si)):
                    continue
                src.queue_span(span[0], span[1],
                               lambda s=span: f"reinterpret_cast<const void*>({src.out_text(*s).strip()})")
            src.count("runtime")
    _thrust_policy(src, "cuda", "hip")


def host_calls_to_cuda(src: SourceEdit) -> None:
    """``HIP_SYMBOL(x)`` -> ``x``; ``thrust::hip::`` -> ``thrust::cuda::``."""
    for si in src.where("HIP_SYMBOL"):
        if src.stext(si + 1) != "(":
            continue
        close = src.match_close(si + 1)
        if close > si + 2:
            src.queue_span(si, close + 1, lambda a=si + 2, b=close: src.out_text(a, b).strip())
            src.count("runtime")
    _thrust_policy(src, "hip", "cuda")


def _thrust_policy(src: SourceEdit, old: str, new: str) -> None:
    for si in src.where(old):
        if src.stext(si - 1) == "::" and src.stext(si - 2) == "thrust" and src.stext(si + 1) == "::":
            src.set_token(si, new)
            src.count("runtime")
