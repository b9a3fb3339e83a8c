"""grid-stride: a one-element-per-thread kernel becomes a grid-stride loop in which each thread
handles K elements.

Recognised shape (the usual elementwise kernel)::

    [const] I tid = blockIdx.x * M + threadIdx.x;     // M is the block size the launch uses
    ...declarations that do not use tid...
    if(tid < bound) { body }                          // the last statement; no else

Every other statement of the kernel must be a declaration, and the body may not use blockIdx.x or
gridDim.x (a per-block result would change meaning), nor return, break or synchronise.

The launch stays as it is: the first ceil(gridDim.x / K) blocks walk the index range with a stride of
that many blocks, the others exit at once. The loop covers every index below the bound for any grid
and any K, so the rewrite is correct by construction once M is checked against the launch's block
size; and validation runs the very launch the library makes. (Shrinking the launch grid instead would
need the harness to launch a candidate with its own grid; it launches the library's.)
"""

from __future__ import annotations

import re

from tree_sitter import Node

from portkern.model import Target
from portkern.search.operators.base import (
    Edit,
    KernelUnit,
    Operator,
    Rewrite,
    apply_edits,
    function_name,
    identifiers,
    kernel_functions,
    parse,
    text,
    walk,
)

_SPACE = re.compile(r"\s+")
# blockIdx.x * M + threadIdx.x, either order of the sum and of the product.
_INDEX_FORMS = (
    re.compile(r"^blockIdx\.x\*(?P<m>[A-Za-z_]\w*|blockDim\.x|\d+)\+threadIdx\.x$"),
    re.compile(r"^(?P<m>[A-Za-z_]\w*|blockDim\.x|\d+)\*blockIdx\.x\+threadIdx\.x$"),
    re.compile(r"^threadIdx\.x\+blockIdx\.x\*(?P<m>[A-Za-z_]\w*|blockDim\.x|\d+)$"),
    re.compile(r"^threadIdx\.x\+(?P<m>[A-Za-z_]\w*|blockDim\.x|\d+)\*blockIdx\.x$"),
)
_FORBIDDEN_IN_BODY = ("return_statement", "break_statement", "goto_statement")
_FORBIDDEN_NAMES = ("__syncthreads", "__syncwarp", "__threadfence_block")


def _index_multiplier(expr: str) -> str | None:
    flat = _SPACE.sub("", expr)
    for form in _INDEX_FORMS:
        m = form.match(flat)
        if m:
            return m.group("m")
    return None


def _index_declaration(stmt: Node, data: bytes) -> tuple[str, str, str, str] | None:
    """(type, name, index expression, multiplier) of ``[const] T name = blockIdx.x * M + threadIdx.x;``."""
    if stmt.type != "declaration":
        return None
    declarators = [c for c in stmt.named_children if c.type == "init_declarator"]
    type_node = stmt.child_by_field_name("type")
    if len(declarators) != 1 or type_node is None:
        return None
    name_node = declarators[0].child_by_field_name("declarator")
    value = declarators[0].child_by_field_name("value")
    if name_node is None or value is None or name_node.type != "identifier":
        return None
    mult = _index_multiplier(text(value, data))
    if mult is None:
        return None
    return text(type_node, data), text(name_node, data), text(value, data), mult


def _bound(cond: Node, name: str, data: bytes) -> str | None:
    """``bound`` of an if condition ``(name < bound)``."""
    inner = cond.named_children[0] if cond.type in ("condition_clause", "parenthesized_expression") and \
        cond.named_child_count == 1 else cond
    if inner.type != "binary_expression":
        return None
    op = inner.child_by_field_name("operator")
    left, right = inner.child_by_field_name("left"), inner.child_by_field_name("right")
    if op is None or left is None or right is None or text(op, data) != "<" or text(left, data) != name:
        return None
    if name in identifiers(right, data):
        return None
    return text(right, data)


def _writes(node: Node, name: str, data: bytes) -> bool:
    for n in walk(node):
        if n.type in ("assignment_expression", "update_expression"):
            target = n.child_by_field_name("left") or n.child_by_field_name("argument")
            if target is not None and text(target, data) == name:
                return True
    return False


def _block_size_matches(mult: str, launches, symbol: str) -> bool:
    if mult == "blockDim.x":
        return True
    blocks = [launch.block[0] if launch.block else "" for launch in launches if launch.symbol == symbol]
    return bool(blocks) and all(_SPACE.sub("", str(b)) == mult for b in blocks)


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
        data, root = parse(unit.source)
        edits: list[Edit] = []
        changed: list[str] = []
        for fn in kernel_functions(root, unit.symbols):
            found = self._rewrite(fn, data, unit, arg)
            if found:
                edits.extend(found[0])
                changed.append(found[1])
        if not edits:
            return None
        return Rewrite(source=apply_edits(data, edits), launches=list(unit.launches), label=self.label(arg),
                       description=f"grid-stride loop in {', '.join(changed)}: {arg} elements per thread, the first "
                                   f"1/{arg} of the blocks do the work", edits=changed)

    def _rewrite(self, fn: Node, data: bytes, unit: KernelUnit, arg: int) -> tuple[list[Edit], str] | None:
        body = fn.child_by_field_name("body")
        stmts = [c for c in body.named_children if c.type != "comment"]
        for i, stmt in enumerate(stmts):
            decl = _index_declaration(stmt, data)
            if decl is None:
                continue
            type_text, name, index, mult = decl
            if not _block_size_matches(mult, unit.launches, function_name(fn)):
                return None
            rest = stmts[i + 1:]
            if not rest or rest[-1].type != "if_statement":
                return None
            guard = rest[-1]
            if any(name in identifiers(s, data) for s in rest[:-1]):
                return None
            if any(s.type != "declaration" for s in stmts if s is not guard and s is not stmt):
                return None
            if guard.child_by_field_name("alternative") is not None:
                return None
            cond, then = guard.child_by_field_name("condition"), guard.child_by_field_name("consequence")
            if cond is None or then is None:
                return None
            bound = _bound(cond, name, data)
            if bound is None:
                return None
            names = {text(n, data) for n in walk(then) if n.type in ("identifier", "field_expression")}
            if {"blockIdx.x", "gridDim.x"} & names or any(n in names for n in _FORBIDDEN_NAMES):
                return None
            if any(n.type in _FORBIDDEN_IN_BODY for n in walk(then)) or _writes(then, name, data):
                return None
            loop_type = re.sub(r"^\s*const\s+", "", type_text)
            active = f"{name}_active_blocks"
            line_start = data.rfind(b"\n", 0, stmt.start_byte) + 1
            indent = data[line_start:stmt.start_byte].decode("utf-8")
            exit_early = (f"// grid-stride, {arg} elements per thread: the first blocks do the work, the rest exit\n"
                          f"{indent}const unsigned int {active} = (gridDim.x + {arg}u - 1u) / {arg}u;\n"
                          f"{indent}if(blockIdx.x >= {active})\n{indent}    return;")
            head = f"for({loop_type} {name} = {index}; {name} < {bound}; {name} += {active} * {mult})"
            return [Edit(stmt.start_byte, stmt.end_byte, exit_early),
                    Edit(guard.start_byte, then.start_byte, head + "\n" + indent)], function_name(fn)
        return None
