"""grid-stride: a one-element-per-thread kernel becomes a grid-stride loop in which each thread
handles K elements.

Recognised shape: the elementwise kernel of ``portkern.search.operators.elementwise``; the body may
not use blockIdx.x or gridDim.x either (a per-block result would change meaning), nor return, break
or synchronise.

The launch stays as it is: the first ceil(gridDim.x / K) blocks walk the index range with a stride of
that many blocks, the others exit at once. The loop covers every index below the bound for any grid
and any K, so the rewrite is correct by construction once M is checked against the launch's block
size; and validation runs the very launch the library makes. (Shrinking the launch grid instead would
need the harness to launch a candidate with its own grid; it launches the library's.)
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
    indent_of,
    text,
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
            lambda names: f"grid-stride loop in {', '.join(names)}: {arg} elements per thread, the first "
                          f"1/{arg} of the blocks do the work")

    def _rewrite(self, kernel: KernelDef, data: bytes, unit: KernelUnit, arg: int) -> list[Edit] | None:
        shape = elementwise(kernel, data, unit)
        if shape is None:
            return None
        then = shape.then
        names = {text(n, data) for n in walk(then) if n.type in ("identifier", "field_expression")}
        if {"blockIdx.x", "gridDim.x"} & names or any(n in names for n in _FORBIDDEN_NAMES):
            return None
        if any(n.type in _FORBIDDEN_IN_BODY for n in walk(then)):
            return None
        name, mult = shape.name, shape.multiplier
        loop_type = re.sub(r"^\s*const\s+", "", shape.type_text)
        active = f"{name}_active_blocks"
        indent = indent_of(shape.index_stmt, data)
        exit_early = (f"// grid-stride, {arg} elements per thread: the first blocks do the work, the rest exit\n"
                      f"{indent}const unsigned int {active} = (gridDim.x + {arg}u - 1u) / {arg}u;\n"
                      f"{indent}if(blockIdx.x >= {active})\n{indent}    return;")
        head = f"for({loop_type} {name} = {shape.index}; {name} < {shape.bound}; {name} += {active} * {mult})"
        return [Edit(shape.index_stmt.start_byte, shape.index_stmt.end_byte, exit_early),
                Edit(shape.guard.start_byte, then.start_byte, head + "\n" + indent)]
