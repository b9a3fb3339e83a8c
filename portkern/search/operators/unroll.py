"""unroll: ``#pragma unroll F`` on counted loops of the kernels (index compared against a bound,
stepped by ++, --, += or -=) that carry no unroll pragma yet. A pragma never changes what a loop
computes: correct by construction."""

from __future__ import annotations

from tree_sitter import Node

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

_COMPARISONS = ("<", "<=", ">", ">=", "!=")
_STEPS = ("++", "--", "+=", "-=")


def _counted(loop: Node, data: bytes) -> bool:
    cond, update = loop.child_by_field_name("condition"), loop.child_by_field_name("update")
    if cond is None or update is None or cond.type != "binary_expression":
        return False
    op = cond.child_by_field_name("operator")
    if op is None or text(op, data) not in _COMPARISONS:
        return False
    left = cond.child_by_field_name("left")
    if update.type == "update_expression":
        var = update.child_by_field_name("argument")
        step = update.child_by_field_name("operator")
    elif update.type == "assignment_expression":
        var = update.child_by_field_name("left")
        step = update.child_by_field_name("operator")
    else:
        return False
    return (var is not None and step is not None and left is not None and text(step, data) in _STEPS
            and text(var, data) == text(left, data))


def _has_pragma(loop: Node, data: bytes) -> bool:
    prev = loop.prev_named_sibling
    return prev is not None and prev.type in ("preproc_call",) and "unroll" in text(prev, data)


class Unroll(Operator):
    name = "unroll"
    description = "add #pragma unroll F to the kernels' counted loops"
    by_construction = True
    order = 30

    def arguments(self, target: Target) -> list[int]:
        return [2, 4, 8]

    def apply(self, unit: KernelUnit, arg: int, target: Target) -> Rewrite | None:
        if arg < 2:
            return None
        count = [0]

        def mark(kernel: KernelDef, data: bytes) -> list[Edit]:
            edits = []
            for node in walk(kernel.body):
                if node.type == "for_statement" and _counted(node, data) and not _has_pragma(node, data):
                    indent = indent_of(node, data)
                    if indent.strip():
                        continue             # the loop shares its line with other code: leave it
                    edits.append(Edit(node.start_byte, node.start_byte, f"#pragma unroll {arg}\n{indent}"))
            count[0] += len(edits)
            return edits

        return self.rewrite_kernels(unit, arg, mark, lambda names: f"#pragma unroll {arg} on {count[0]} counted "
                                                                   f"loop(s) in {', '.join(names)}")
