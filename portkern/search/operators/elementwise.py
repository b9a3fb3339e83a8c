"""The one-element-per-thread kernel shape that grid-stride and vectorize rewrite (not an operator)::

    [const] I tid = blockIdx.x * M + threadIdx.x;     // M is the block size the launch uses
    ...declarations that do not use tid...
    if(tid < bound) { body }                          // the last statement; no else

Every other statement of the kernel must be a declaration, and the body may not assign the index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from portkern.search.operators.base import KernelDef, KernelUnit, identifiers, text, walk

_SPACE = re.compile(r"\s+")
# blockIdx.x * M + threadIdx.x, either order of the sum and of the product.
_INDEX_FORMS = (
    re.compile(r"^blockIdx\.x\*(?P<m>[A-Za-z_]\w*|blockDim\.x|\d+)\+threadIdx\.x$"),
    re.compile(r"^(?P<m>[A-Za-z_]\w*|blockDim\.x|\d+)\*blockIdx\.x\+threadIdx\.x$"),
    re.compile(r"^threadIdx\.x\+blockIdx\.x\*(?P<m>[A-Za-z_]\w*|blockDim\.x|\d+)$"),
    re.compile(r"^threadIdx\.x\+(?P<m>[A-Za-z_]\w*|blockDim\.x|\d+)\*blockIdx\.x$"),
)


@dataclass
class Elementwise:
    index_stmt: Node                     # the index declaration
    type_text: str                       # its type, e.g. "const I"
    name: str                            # the index, e.g. "tid"
    index: str                           # blockIdx.x * M + threadIdx.x, as written
    multiplier: str                      # M
    guard: Node                          # the if statement
    bound: str                           # the bound of the guard's comparison
    then: Node                           # the guarded body


def _index_multiplier(expr: str) -> str | None:
    flat = _SPACE.sub("", expr)
    for form in _INDEX_FORMS:
        m = form.match(flat)
        if m:
            return m.group("m")
    return None


def index_declaration(stmt: Node, data: bytes) -> tuple[str, str, str, str] | None:
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
    qualifiers = "".join(text(c, data) + " " for c in stmt.children if c.type == "type_qualifier")
    return qualifiers + text(type_node, data), text(name_node, data), text(value, data), mult


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


def writes(node: Node, name: str, data: bytes) -> bool:
    """Whether anything under ``node`` assigns or steps ``name``."""
    for n in walk(node):
        if n.type in ("assignment_expression", "update_expression"):
            target = n.child_by_field_name("left") or n.child_by_field_name("argument")
            if target is not None and text(target, data) == name:
                return True
    return False


def block_size_matches(mult: str, launches, symbol: str) -> bool:
    """Whether the index multiplier is the block size every launch of ``symbol`` uses."""
    if mult == "blockDim.x":
        return True
    blocks = [launch.block[0] if launch.block else "" for launch in launches if launch.symbol == symbol]
    return bool(blocks) and all(_SPACE.sub("", str(b)) == mult for b in blocks)


def elementwise(kernel: KernelDef, data: bytes, unit: KernelUnit) -> Elementwise | None:
    """The kernel's elementwise shape, or None when it has another one."""
    stmts = [c for c in kernel.body.named_children if c.type != "comment"]
    for i, stmt in enumerate(stmts):
        decl = index_declaration(stmt, data)
        if decl is None:
            continue
        type_text, name, index, mult = decl
        if not block_size_matches(mult, unit.launches, kernel.name):
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
        if bound is None or writes(then, name, data):
            return None
        return Elementwise(index_stmt=stmt, type_text=type_text, name=name, index=index, multiplier=mult,
                           guard=guard, bound=bound, then=then)
    return None
