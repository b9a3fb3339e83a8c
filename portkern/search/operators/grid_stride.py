"""grid-stride: a one-element-per-thread kernel becomes a grid-stride loop in which each thread
handles K elements.

Recognised shape: the elementwise kernel of ``portkern.search.operators.elementwise``; the body may
not use blockIdx.x or gridDim.x either (a per-block result would change meaning), nor return, break
or synchronise.

The launch's grid has 1/K of the blocks in x (rounded up; the launches of the candidate say so, and
the patch makes the host code that launches the kernel do the same), and the threads walk the index
range with a stride of the whole grid. The loop covers every index below the bound for any number of
blocks, so the rewrite is correct by construction once M is checked against the launch's block size
and nothing but the index reads the block's position in x (a kernel that derives a batch or a tile
from blockIdx.x is left alone).
"""

from __future__ import annotations

import re

from portkern.model import Target
from portkern.search.operators.base import (
    Edit,
    KernelDef,
    KernelUnit,
    Operator,
    Rewrite,
    text,
    uses_block_position,
    walk,
)
from portkern.search.operators.elementwise import elementwise

_FORBIDDEN_IN_BODY = ("return_statement", "break_statement", "goto_statement")
_FORBIDDEN_NAMES = ("__syncthreads", "__syncwarp", "__threadfence_block")


class GridStride(Operator):
    name = "grid-stride"
    description = "turn a one-element-per-thread kernel into a grid-stride loop with K elements per thread"
    by_construction = True
    order = 10

    def arguments(self, target: Target) -> list[int]:
        return [2, 4, 8]

    def apply(self, unit: KernelUnit, arg: int, target: Target) -> Rewrite | None:
        if arg < 2:
            return None
        return self.rewrite_kernels(
            unit, arg, lambda kernel, data: self._rewrite(kernel, data, unit, arg),
            lambda names: f"grid-stride loop in {', '.join(names)}: {arg} elements per thread, launched with "
                          f"1/{arg} of the blocks",
            shrink=lambda kernel: arg)

    def _rewrite(self, kernel: KernelDef, data: bytes, unit: KernelUnit, arg: int) -> list[Edit] | None:
        shape = elementwise(kernel, data, unit)
        if shape is None:
            return None
        then = shape.then
        names = {text(n, data) for n in walk(then) if n.type == "identifier"}
        if uses_block_position(kernel.body, data, skip=shape.index_stmt) or any(n in names for n in _FORBIDDEN_NAMES):
            return None
        if any(n.type in _FORBIDDEN_IN_BODY for n in walk(then)):
            return None
        name, mult = shape.name, shape.multiplier
        loop_type = re.sub(r"^\s*const\s+", "", shape.type_text)
        extra = f" && ({shape.extra})" if shape.extra else ""
        head = (f"// grid-stride, {arg} elements per thread: the launch has 1/{arg} of the blocks\n"
                f"{' ' * shape.guard.start_point[1]}for({loop_type} {name} = {shape.index}; {name} < {shape.bound}{extra}; "
                f"{name} += gridDim.x * {mult})")
        return [Edit(shape.index_stmt.start_byte, _line_end(data, shape.index_stmt.end_byte), ""),
                Edit(shape.guard.start_byte, then.start_byte, head + "\n" + " " * shape.guard.start_point[1])]


def _line_end(data: bytes, pos: int) -> int:
    """Past the end of the line at ``pos`` (its newline and the next line's indentation) when only
    spaces follow ``pos`` on it; ``pos`` otherwise."""
    end = data.find(b"\n", pos)
    if end < 0 or data[pos:end].strip():
        return pos
    nxt = end + 1
    while nxt < len(data) and data[nxt:nxt + 1] in (b" ", b"\t"):
        nxt += 1
    return nxt
