"""unroll: ``#pragma unroll F`` on counted loops of the kernels (index compared against a bound,
stepped by ++, --, += or -=) that carry no unroll pragma yet. A pragma never changes what a loop
computes: correct by construction."""

from __future__ import annotations

from tree_sitter import Node

from portkern.model import Target
from portkern.search.operators.base import (
    Edit,
    KernelUnit,
    Operator,
    Rewrite,
    apply_edits,
    function_name,
    kernel_functions,
    parse,
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
        data, root = parse(unit.source)
        edits, where = [], []
        for fn in kernel_functions(root, unit.symbols):
            for node in walk(fn.child_by_field_name("body")):
                if node.type == "for_statement" and _counted(node, data) and not _has_pragma(node, data):
                    line_start = data.rfind(b"\n", 0, node.start_byte) + 1
                    indent = data[line_start:node.start_byte].decode("utf-8")
                    if indent.strip():
                        continue             # the loop shares its line with other code: leave it
                    edits.append(Edit(node.start_byte, node.start_byte, f"#pragma unroll {arg}\n{indent}"))
                    where.append(function_name(fn))
        if not edits:
            return None
        names = sorted(set(w for w in where if w))
        return Rewrite(source=apply_edits(data, edits), launches=list(unit.launches), label=self.label(arg),
                       description=f"#pragma unroll {arg} on {len(edits)} counted loop(s) in {', '.join(names)}",
                       edits=names)
