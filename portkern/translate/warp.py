"""Warp-level intrinsics: CUDA's masked *_sync forms <-> HIP's maskless forms, and related calls."""

from __future__ import annotations

import re

from portkern.translate.maps import MapTables
from portkern.translate.source import SourceEdit

FULL_MASK_32 = "0xffffffffu"
FULL_MASK_64 = "0xffffffffffffffffull"

_ALL_ONES_32 = re.compile(r"^(?:0[xX][fF]{8}[uUlL]*|~0[uUlL]*|-1|\(unsigned\)-1|~0x0[uUlL]*|4294967295[uUlL]*)$")
_ALL_ONES_64 = re.compile(r"^(?:0[xX][fF]{16}[uUlL]*|~0[uUlL]*|-1|18446744073709551615[uUlL]*)$")


def full_mask_names(src: SourceEdit) -> set[str]:
    """Macros and constants defined as an all-ones 32-bit (or 64-bit) mask, e.g. FULL_MASK."""
    names: set[str] = set()
    texts, kinds = src.stexts, src.skinds
    n = len(texts)
    for si in sorted({d + 1 for d in src.where("define")} | {e - 1 for e in src.where("=")}):
        if si < 0 or si + 2 >= n:
            continue
        if kinds[si] != "ident":
            continue
        nxt = texts[si + 1]
        prev = texts[si - 1] if si else ""
        if prev == "define" and (_ALL_ONES_32.match(nxt) or _ALL_ONES_64.match(nxt)):
            names.add(texts[si])
        elif nxt == "=" and si + 3 < n and texts[si + 3] == ";":
            value = texts[si + 2]
            if _ALL_ONES_32.match(value) or _ALL_ONES_64.match(value):
                names.add(texts[si])
    return names


def is_full_mask(text: str, full_names: set[str]) -> bool:
    text = text.strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return bool(_ALL_ONES_32.match(text) or _ALL_ONES_64.match(text)) or text in full_names or \
        text.replace(" ", "") == "__activemask()"


def lower_to_hip(src: SourceEdit, tables: MapTables) -> None:
    """``__shfl_down_sync(mask, v, d)`` -> ``__shfl_down(v, d)``; ``__activemask()`` -> ``__ballot(1)``;
    ``__syncwarp(...)`` -> a wavefront barrier. Masks that are not the full warp are reported."""
    full_names = full_mask_names(src)
    for si in src.where_any(set(tables.mask_intrinsics) | {"__activemask", "__syncwarp"}):
        t = src.stok(si)
        if src.stext(si + 1) != "(":
            continue
        name = t.text
        if name in tables.mask_intrinsics:
            close = src.match_close(si + 1)
            if close < 0:
                continue
            args = src.split_args(si + 1, close)
            if len(args) < 2:
                continue
            mask_src = src.src_text(*args[0])
            full = is_full_mask(mask_src, full_names)
            hip_name = tables.mask_intrinsics[name]
            rest_start = args[1][0]
            src.queue_span(si, close + 1, _maskless(src, hip_name, rest_start, close, args[0], full,
                                                    name == "__ballot_sync"))
            src.count("device")
            if not full:
                src.hazard(si, "partial-lane-mask", "warning",
                           f"{name} with mask '{mask_src.strip()}': HIP has no masked form; the call was "
                           "lowered to the maskless one (ballots are ANDed with the mask) - check that every "
                           "lane named in the mask is active and that lanes outside it do not matter",
                           fixed=False, span=(si, close + 1))
        elif name == "__activemask":
            close = src.match_close(si + 1)
            if close > 0:
                src.queue_span(si, close + 1, lambda: "__ballot(1)")
                src.count("device")
                src.hazard(si, "activemask", "info",
                           "__activemask() became __ballot(1): a 64-bit mask of the active lanes on AMD",
                           fixed=True, span=(si, close + 1))
        elif name == "__syncwarp":
            close = src.match_close(si + 1)
            if close > 0:
                src.queue_span(si, close + 1, lambda: "__builtin_amdgcn_wave_barrier()")
                src.count("device")


def _maskless(src: SourceEdit, hip_name: str, rest_start: int, close: int, mask_span: tuple[int, int],
              full: bool, is_ballot: bool):
    def build() -> str:
        rest = src.out_text(rest_start, close).strip()
        if is_ballot and not full:
            return f"({hip_name}({rest}) & ({src.out_text(*mask_span).strip()}))"
        return f"{hip_name}({rest})"
    return build


def raise_to_cuda(src: SourceEdit, tables: MapTables) -> None:
    """``__shfl_down(v, d)`` -> ``__shfl_down_sync(0xffffffffu, v, d)``; 64-bit full masks of *_sync
    calls -> 32-bit; the wavefront barrier -> ``__syncwarp()``."""
    maskless_to_sync = {hip: cuda for cuda, hip in tables.mask_intrinsics.items()}
    watched = set(maskless_to_sync) | set(tables.mask_intrinsics) | {"__builtin_amdgcn_wave_barrier"}
    for si in src.where_any(watched):
        t = src.stok(si)
        if src.stext(si + 1) != "(":
            continue
        prev = src.stexts[si - 1] if si else ""
        if prev in (".", "->", "::"):
            continue
        name = t.text
        if name in maskless_to_sync:
            close = src.match_close(si + 1)
            if close < 0:
                continue
            sync_name = maskless_to_sync[name]
            src.queue_span(si, si + 2, lambda s=sync_name: f"{s}({FULL_MASK_32}, ")
            src.count("device")
        elif name in tables.mask_intrinsics:
            close = src.match_close(si + 1)
            args = src.split_args(si + 1, close) if close > 0 else []
            if args and args[0][1] - args[0][0] == 1:
                mask_text = src.stexts[args[0][0]]
                if _ALL_ONES_64.match(mask_text) and not _ALL_ONES_32.match(mask_text) or \
                        re.match(r"^0[xX][fF]{16}", mask_text):
                    src.set_token(args[0][0], FULL_MASK_32)
                    src.hazard(args[0][0], "lane-mask-64bit", "info",
                               f"64-bit full lane mask '{mask_text}' narrowed to the 32-lane warp mask",
                               fixed=True)
        elif name == "__builtin_amdgcn_wave_barrier":
            close = src.match_close(si + 1)
            if close > 0:
                src.queue_span(si, close + 1, lambda: "__syncwarp()")
                src.count("device")
