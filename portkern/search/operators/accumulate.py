"""accumulate: a reduction's first stage that reads one element per thread before a block sum reads
every element of its thread's grid stride instead (rocBLAS's asum, nrm2 and iamax first stages)::

    I tid = blockIdx.x * M + threadIdx.x;          // M is the launch's block size
    ...
    if(tid < n) v = E;                             // E reads element tid
    else        v = D;                             // D does not use tid
    v = prefix_block_reduce<...>(v);               // a block sum (not a max or a min)

becomes::

    v = D;
    for(I tid = blockIdx.x * M + threadIdx.x; tid < n; tid += gridDim.x * M)
        v += E;
    v = prefix_block_reduce<...>(v);

With the launch as it was (a block per M elements) every thread runs the loop once, or not at all:
it holds ``D + E`` where it held ``E``, which is the same value when ``D`` is the sum's identity (the
padding a block sum needs). A block reduction that passes the kernel's combine functor ``R`` (rocBLAS's
``rocblas_shuffle_block_reduce_method<NB, REDUCE>``, iamax's) folds with ``R{}(v, E);``, as the
reduction's second stage does, instead of ``+=``. The rewrite is the shape ``fewer-blocks`` (then ``vectorize`` and
``unroll``) works on: launched with 1/K of the blocks, each thread adds K elements before the block
sum. The index may have no other use in the kernel. Whether ``D`` is the identity and the helper a sum
is read from names and not proven: validated.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from portkern.model import Target
from portkern.search.operators.base import (
    Edit,
    KernelDef,
    KernelUnit,
    Operator,
    Rewrite,
    Suggestion,
    indent_of,
    text,
    walk,
)
from portkern.search.operators.elementwise import first_index, template_parameters

# rocblas_dot_block_reduce, block_reduce_sum, blockReduceSum, block_sum, warp_reduce ...
_SUM_REDUCE = re.compile(r"(?:block|warp|wave)\w*(?:reduce|sum)\w*$", re.I)
_NOT_SUM = re.compile(r"max|min|amax|amin|arg", re.I)
_FUNCTOR = re.compile(r"reduce|combine|op$", re.I)


def _single_assignment(node: Node | None, data: bytes) -> tuple[str, Node] | None:
    """(variable, value) of ``v = value;`` or ``{ v = value; }``."""
    if node is None:
        return None
    if node.type == "else_clause":
        node = node.named_children[0] if node.named_child_count == 1 else None
        if node is None:
            return None
    if node.type == "compound_statement":
        stmts = [c for c in node.named_children if c.type != "comment"]
        if len(stmts) != 1:
            return None
        node = stmts[0]
    if node.type != "expression_statement" or node.named_child_count != 1:
        return None
    expr = node.named_children[0]
    if expr.type != "assignment_expression" or text(expr.child_by_field_name("operator"), data) != "=":
        return None
    left, right = expr.child_by_field_name("left"), expr.child_by_field_name("right")
    if left is None or right is None or left.type != "identifier":
        return None
    return text(left, data), right


def _block_reduction_of(stmt: Node, var: str, data: bytes, kernel_params: list[str]) -> str | None:
    """How a thread folds one more element into ``var`` before ``stmt``, the block reduction
    ``var = helper<...>(var);``: ``+=`` for a helper named as a block, warp or wave reduction or sum that
    names no max or min; ``R{}(var, e);`` for one whose template arguments pass the kernel's combine
    functor ``R`` (a type parameter named like ``REDUCE``), the call its other uses make; None otherwise."""
    found = _single_assignment(stmt, data)
    if found is None or found[0] != var or found[1].type != "call_expression":
        return None
    fn, args = found[1].child_by_field_name("function"), found[1].child_by_field_name("arguments")
    if fn is None or args is None or args.named_child_count != 1 or text(args.named_children[0], data) != var:
        return None
    name = fn.child_by_field_name("name") if fn.type == "template_function" else fn
    callee = text(name, data) if name is not None else ""
    if not _SUM_REDUCE.search(callee):
        return None
    targs = fn.child_by_field_name("arguments") if fn.type == "template_function" else None
    # template arguments that look like an operation: exactly one, the kernel's own type parameter
    functors = [text(a, data).strip() for a in (targs.named_children if targs is not None else [])
                if _FUNCTOR.search(text(a, data)) or _NOT_SUM.search(text(a, data))]
    if functors:
        return functors[0] + "{}" if len(functors) == 1 and functors[0] in kernel_params else None
    return "+=" if not _NOT_SUM.search(callee) else None


def _uses(node: Node, name: str, data: bytes) -> int:
    return sum(1 for n in walk(node) if n.type == "identifier" and text(n, data) == name)


class Accumulate(Operator):
    name = "accumulate"
    description = ("a reduction's one-element-per-thread read before a block sum becomes a grid-stride loop "
                   "that adds every element of the thread's stride")
    by_construction = False
    order = 3

    def arguments(self, target: Target) -> list[int]:
        return [1]

    def suggestions(self, tunables: dict[str, list[int]], target: Target) -> list[Suggestion]:
        """The loop is the way to fewer blocks with vector loads (what gave nrm2 1.42x and asum 1.32x over
        the library's kernels on an H100, benchmarks/results/nvidia-h100-2026-12-07.md)."""
        vec, unroll = ("vectorize", 4), ("unroll", 4)
        return [Suggestion(params=(), arg=1, steps=(("fewer-blocks", 8), vec, unroll),
                           why="a grid-stride sum with vector loads four at a time, an eighth of the blocks"),
                Suggestion(params=(), arg=1, steps=(("fewer-blocks", 16), vec, unroll),
                           why="a grid-stride sum with vector loads four at a time, a sixteenth of the blocks"),
                Suggestion(params=(), arg=1, steps=(("fewer-blocks", 8),),
                           why="a grid-stride sum, an eighth of the blocks")]

    def apply(self, unit: KernelUnit, arg: int, target: Target) -> Rewrite | None:
        if arg != 1:
            return None
        return self.rewrite_kernels(
            unit, arg, lambda kernel, data: self._rewrite(kernel, data, unit),
            lambda names: f"{', '.join(names)} adds every element of its thread's grid stride before the block "
                          "sum (one each with the launch as it was)")

    def _rewrite(self, kernel: KernelDef, data: bytes, unit: KernelUnit) -> list[Edit] | None:
        found = first_index(kernel, data, unit)
        if found is None:
            return None
        stmts, i, (type_text, name, index, mult) = found
        for j in range(i + 1, len(stmts) - 1):
            edits = self._at(stmts, i, j, data, type_text, name, index, mult, kernel)
            if edits:
                return edits
        return None

    def _at(self, stmts: list[Node], i: int, j: int, data: bytes, type_text: str, name: str, index: str, mult: str,
            kernel: KernelDef) -> list[Edit] | None:
        guard = stmts[j]
        if guard.type != "if_statement":
            return None
        cond = guard.child_by_field_name("condition")
        inner = cond.named_children[0] if cond is not None and cond.named_child_count == 1 else None
        if inner is None or inner.type != "binary_expression" or \
                text(inner.child_by_field_name("operator"), data) != "<" or \
                text(inner.child_by_field_name("left"), data) != name:
            return None
        bound = inner.child_by_field_name("right")
        if _uses(bound, name, data):
            return None
        then = _single_assignment(guard.child_by_field_name("consequence"), data)
        other = _single_assignment(guard.child_by_field_name("alternative"), data)
        if then is None or other is None or then[0] != other[0] or _uses(other[1], name, data):
            return None
        var = then[0]
        fold = _block_reduction_of(stmts[j + 1], var, data, template_parameters(kernel.template_head))
        if fold is None:
            return None
        # the index is used by the declaration and the guard only
        if _uses(kernel.body, name, data) != 1 + _uses(guard, name, data):
            return None
        if any(n.type in ("assignment_expression", "update_expression") and
               text(n.child_by_field_name("left") or n.child_by_field_name("argument"), data) == name
               for n in walk(guard)):
            return None
        ind = indent_of(guard, data)
        loop_type = re.sub(r"^\s*const\s+", "", type_text)
        how = "added" if fold == "+=" else f"folded by {fold[:-2]}"
        new = (f"// accumulate: every element of this thread's grid stride, {how} (one with the launch as it was)\n"
               f"{ind}{var} = {text(other[1], data)};\n"
               f"{ind}for({loop_type} {name} = {index}; {name} < {text(bound, data)}; {name} += gridDim.x * {mult})\n"
               f"{ind}    " + (f"{var} += {text(then[1], data)};" if fold == "+=" else
                                 f"{fold}({var}, {text(then[1], data)});"))
        index_stmt = stmts[i]
        line_start = data.rfind(b"\n", 0, index_stmt.start_byte) + 1
        line_end = data.find(b"\n", index_stmt.end_byte)
        whole_line = not data[line_start:index_stmt.start_byte].strip() and (
            line_end < 0 or not data[index_stmt.end_byte:line_end].strip())
        drop = Edit(line_start, line_end + 1, "") if whole_line and line_end >= 0 else \
            Edit(index_stmt.start_byte, index_stmt.end_byte, "")
        # a comment after the guard on its last line (it spoke of the else branch) goes with it
        end = guard.end_byte
        eol = data.find(b"\n", end)
        if eol >= 0 and data[end:eol].strip().startswith(b"//"):
            end = eol
        return [drop, Edit(guard.start_byte, end, new)]
