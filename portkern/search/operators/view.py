"""The text operators read: a unit with the ``#if`` branches the target does not compile marked out.

A parser that does not preprocess cannot hold a kernel whose ``#if`` chains open a scope in one chain
and close it in the next (rocBLAS wraps kernel bodies in a batch loop that only GFX12 device code
compiles)::

    #if DEVICE_GRID_YZ_16BIT
        for(; batch < batch_count; batch += c_YZ_grid_launch_limit) {
    #endif
        ...
    #if DEVICE_GRID_YZ_16BIT
        }
    #endif

For such chains the view keeps the branch the target's device compile takes (its macros from
``device_defines``, the unit's own ``#define``s, a name defined nowhere counting as 0) and fills the
directives and the other branches with vertical tabs, which the grammar reads as white space. The
view has the same length and line breaks as the unit, so an operator's edits, made on the view,
apply to the unit at the same offsets. ``guarded`` then refuses a rewrite that would touch what the
view hid: an edit that overlaps a hidden range, or one whose text carries a vertical tab (text copied
from a hidden range). What the target does not compile is therefore kept as written, byte for byte;
the rewrite is compiled and validated for the target's configuration.

Chains decided only by guessing (a condition the configuration cannot evaluate) give no view: the
unit is parsed as written, as before.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from portkern.ingest import conditions as cond
from portkern.ingest import macros as mac
from portkern.model import Target

HIDDEN = b"\v"
_FAMILY = re.compile(r"^gfx(\d+?)(\d)(\w)$")


def device_defines(target: Target) -> dict[str, str]:
    """The macros the target's device compile defines that kernels test in ``#if`` (architecture and
    device-pass macros, as the compilers document them)."""
    if target.vendor == "amd":
        out = {"__HIP__": "1", "__HIPCC__": "1", "__HIP_DEVICE_COMPILE__": "1", "__HIP_PLATFORM_AMD__": "1",
               "__AMDGCN__": "1", "__AMDGCN_WAVEFRONT_SIZE": str(target.wavefront),
               f"__{target.arch}__": "1"}
        m = _FAMILY.match(target.arch)
        if m:
            out[f"__GFX{m.group(1)}__"] = "1"
        return out
    m = re.match(r"^sm_(\d+)(\d)\w?$", target.arch)
    out = {"__CUDACC__": "1", "__NVCC__": "1"}
    if m:
        out["__CUDA_ARCH__"] = str(int(m.group(1)) * 100 + int(m.group(2)) * 10)
    return out


@dataclass(frozen=True)
class View:
    data: bytes                          # the unit's bytes with the hidden ranges filled with HIDDEN
    hidden: tuple[tuple[int, int], ...]  # [start, end) byte ranges the view hides

    def guarded(self, edits) -> bool:
        """Whether the edits leave every hidden range as it is (none overlaps one, none copies from one)."""
        for e in edits:
            if HIDDEN.decode() in e.text:
                return False
            for start, end in self.hidden:
                if e.start < end and start < e.end or (e.start == e.end and start < e.start < end):
                    return False
        return True


@functools.lru_cache(maxsize=64)
def view_of(source: bytes, defines: tuple[tuple[str, str], ...]) -> View | None:
    """The view of ``source`` for a device compile with ``defines``; None when no chain needs one or a
    chain could only be guessed."""
    if b"#" not in source:
        return None
    from portkern.ingest.scan import read_preprocessor

    table = mac.MacroTableIndex()
    for d in read_preprocessor("unit", source)[0]:
        table.add(d)
    config = cond.Configuration(values=dict(defines), table=table, closed_world=True)
    blanked, choices = cond.select_branches(source, config)
    if not choices or any(c.how != "configuration" for c in choices):
        return None
    out = bytearray(blanked)
    hidden: list[tuple[int, int]] = []
    start = -1
    for i, (a, b) in enumerate(zip(source, blanked, strict=True)):
        changed = a != b
        if changed:
            out[i] = HIDDEN[0]
        # a hidden range runs over whole hidden lines (their white space and line breaks included)
        if changed and start < 0:
            start = i
        elif start >= 0 and not changed and chr(a) not in " \t\r\n":
            hidden.append((start, _last_hidden(source, blanked, start, i) + 1))
            start = -1
    if start >= 0:
        hidden.append((start, _last_hidden(source, blanked, start, len(source)) + 1))
    return View(data=bytes(out), hidden=tuple(hidden))


def _last_hidden(source: bytes, blanked: bytes, start: int, stop: int) -> int:
    i = stop - 1
    while i > start and source[i] == blanked[i]:
        i -= 1
    return i
