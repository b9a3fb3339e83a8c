"""The one-element-per-thread kernel shape that grid-stride and vectorize rewrite (not an operator)::

    [const] I tid = blockIdx.x * M + threadIdx.x;     // M is the block size the launch uses
    ...declarations that do not use tid...
    if(tid < bound) { body }                          // the last statement; no else

Every other statement of the kernel must be a declaration, and the body may not assign the index. The
guard may add conditions that do not use the index (``if(alpha != 1 && tid < n)``), and it may sit in
wrappers that do not use it either (``if(alpha) { ...declarations...; if(tid < n) { body } }``), each
the last statement of the one around it, with no else: every thread evaluates the same wrapper
conditions, so a rewrite that changes which indices a thread handles keeps them as they are. Those
extra conditions and wrappers may not call functions or assign anything (a rewrite may evaluate
them more or fewer times). ``M`` may be a template parameter of the kernel that the launch binds to
its block size (``template <int DIM_X> ... blockIdx.x * DIM_X``, launched as ``<NB>`` with NB threads).

Units read through a view (``portkern.search.operators.view``) may hide ``#if`` branches the target does
not compile; the shape is refused when hidden code inside the kernel names the index, the block's
position or size in x, or leaves the body early (a rewrite could not keep its meaning there).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from portkern.search.operators.base import KernelDef, KernelUnit, identifiers, text, unit_view, walk

_SPACE = re.compile(r"\s+")
# blockIdx.x * M + threadIdx.x, either order of the sum and of the product.
_INDEX_FORMS = (
    re.compile(r"^blockIdx\.x\*(?P<m>[A-Za-z_]\w*|blockDim\.x|\d+)\+threadIdx\.x$"),
    re.compile(r"^(?P<m>[A-Za-z_]\w*|blockDim\.x|\d+)\*blockIdx\.x\+threadIdx\.x$"),
    re.compile(r"^threadIdx\.x\+blockIdx\.x\*(?P<m>[A-Za-z_]\w*|blockDim\.x|\d+)$"),
    re.compile(r"^threadIdx\.x\+(?P<m>[A-Za-z_]\w*|blockDim\.x|\d+)\*blockIdx\.x$"),
)
_IMPURE = ("call_expression", "assignment_expression", "update_expression")
_HIDDEN_WORDS = re.compile(r"\b(blockIdx|gridDim|blockDim|hipBlockIdx_x|hipGridDim_x|return|break|goto|continue|"
                           r"__syncthreads|__syncwarp)\b")


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
    extra: str = ""                      # the guard's conditions that do not use the index, "" when none


# HIP's spelled-out built-ins, and the widening casts real code puts on the index's factors
# (``(size_t)blockIdx.x * blockDim.x``, ``int64_t(blockIdx.x) * NB``, ``static_cast<long>(...)``).
_HIP_NAMES = (("hipBlockIdx_x", "blockIdx.x"), ("hipThreadIdx_x", "threadIdx.x"), ("hipBlockDim_x", "blockDim.x"))
_ATOM = r"(?:[A-Za-z_]\w*(?:\.x)?|\d+)"
_INT_TYPES = r"(?:size_t|ptrdiff_t|u?int(?:32|64)_t|long|longlong|unsigned|unsignedint|unsignedlong|unsignedlonglong|int)"
_CASTS = (re.compile(rf"static_cast<{_INT_TYPES}>\(({_ATOM})\)"), re.compile(rf"\({_INT_TYPES}\)({_ATOM})"),
          re.compile(rf"{_INT_TYPES}\(({_ATOM})\)"), re.compile(rf"\(({_ATOM}\*{_ATOM})\)"))


def _uncast(flat: str) -> str:
    for old, new in _HIP_NAMES:
        flat = re.sub(rf"\b{old}\b", new, flat)
    for _ in range(4):
        before = flat
        for cast in _CASTS:
            flat = cast.sub(r"\1", flat)
        if flat == before:
            break
    return flat


def _index_multiplier(expr: str) -> str | None:
    flat = _uncast(_SPACE.sub("", expr))
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


def _conjuncts(node: Node, data: bytes) -> list[Node]:
    while node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    op = node.child_by_field_name("operator") if node.type == "binary_expression" else None
    if op is not None and text(op, data) == "&&":
        return _conjuncts(node.child_by_field_name("left"), data) + _conjuncts(node.child_by_field_name("right"), data)
    return [node]


def _pure(node: Node) -> bool:
    return not any(n.type in _IMPURE for n in walk(node))


def _guard_condition(cond: Node, name: str, data: bytes) -> tuple[str, str] | None:
    """(bound, other conditions) of an if condition ``(name < bound)``, or of a conjunction with exactly one
    such term whose other terms neither use ``name`` nor call or assign anything."""
    inner = cond.named_children[0] if cond.type in ("condition_clause", "parenthesized_expression") and \
        cond.named_child_count == 1 else cond
    terms = _conjuncts(inner, data)
    bound, extra = None, []
    for term in terms:
        op = term.child_by_field_name("operator") if term.type == "binary_expression" else None
        left, right = term.child_by_field_name("left"), term.child_by_field_name("right")
        if op is not None and text(op, data) == "<" and left is not None and right is not None and \
                text(left, data) == name and name not in identifiers(right, data) and bound is None:
            bound = text(right, data)
        elif name in identifiers(term, data) or not _pure(term):
            return None
        else:
            extra.append(text(term, data))
    if bound is None:
        return None
    return bound, " && ".join(f"({e})" if len(extra) > 1 else e for e in extra)


def writes(node: Node, name: str, data: bytes) -> bool:
    """Whether anything under ``node`` assigns or steps ``name``."""
    for n in walk(node):
        if n.type in ("assignment_expression", "update_expression"):
            target = n.child_by_field_name("left") or n.child_by_field_name("argument")
            if target is not None and text(target, data) == name:
                return True
    return False


def template_parameters(template_head: str) -> list[str]:
    """The names of a template head's parameters (``template <typename T, int NB = 256>`` -> [T, NB])."""
    inner = template_head[template_head.find("<") + 1:template_head.rfind(">")] if "<" in template_head else ""
    names, depth, part = [], 0, ""
    for ch in inner + ",":
        if ch == "," and depth == 0:
            head = part.split("=", 1)[0].strip()
            m = re.search(r"([A-Za-z_]\w*)\s*(?:\.\.\.)?$", head)
            names.append(m.group(1) if m else "")
            part = ""
            continue
        depth += ch in "<([" and 1 or 0
        depth -= ch in ">)]" and 1 or 0
        part += ch
    return names


def block_size_matches(mult: str, launches, symbol: str, template_head: str = "") -> bool:
    """Whether the index multiplier is the block size every launch of ``symbol`` uses (a template
    parameter of the kernel counting as the argument each launch binds it to)."""
    if mult == "blockDim.x":
        return True
    params = template_parameters(template_head)
    ok = False
    for launch in launches:
        if launch.symbol != symbol:
            continue
        block = _SPACE.sub("", str(launch.block[0])) if launch.block else ""
        value = mult
        if mult in params and params.index(mult) < len(launch.template_args):
            value = _SPACE.sub("", str(launch.template_args[params.index(mult)]))
        if block != value and block != mult:
            return False
        ok = True
    return ok


def _hidden_conflict(kernel: KernelDef, unit: KernelUnit, name: str) -> bool:
    """Whether ``#if`` branches the view hides inside the kernel name the index, the block's position
    or size in x, or leave the body early."""
    view = unit_view(unit)
    if view is None:
        return False
    source = unit.source.encode("utf-8")
    body = kernel.body
    for start, end in view.hidden:
        if end <= body.start_byte or start >= body.end_byte:
            continue
        hidden = source[start:end].decode("utf-8", "replace")
        code = "\n".join(line for line in hidden.splitlines() if not line.lstrip().startswith("#"))
        if _HIDDEN_WORDS.search(code) or re.search(rf"\b{re.escape(name)}\b", code):
            return True
    return False


def _find_guard(stmts: list[Node], name: str, data: bytes) -> tuple[Node, str, str] | None:
    """(guard, bound, other conditions) among ``stmts``: declarations that do not use ``name``, then
    the guard, or a wrapper if around more of the same (see the module's docstring)."""
    if not stmts or stmts[-1].type != "if_statement":
        return None
    last = stmts[-1]
    if any(s.type != "declaration" or name in identifiers(s, data) for s in stmts[:-1]):
        return None
    if last.child_by_field_name("alternative") is not None:
        return None
    cond, then = last.child_by_field_name("condition"), last.child_by_field_name("consequence")
    if cond is None or then is None:
        return None
    if name in identifiers(cond, data):
        found = _guard_condition(cond, name, data)
        return (last, *found) if found is not None else None
    if not _pure(cond) or then.type != "compound_statement":
        return None
    return _find_guard([c for c in then.named_children if c.type != "comment"], name, data)


def first_index(kernel: KernelDef, data: bytes, unit: KernelUnit) -> tuple[list[Node], int, tuple] | None:
    """(the body's statements, the position of the first index declaration among them, what
    ``index_declaration`` read from it) when its multiplier is the block size the launches use."""
    stmts = [c for c in kernel.body.named_children if c.type != "comment"]
    for i, stmt in enumerate(stmts):
        decl = index_declaration(stmt, data)
        if decl is None:
            continue
        if not block_size_matches(decl[3], unit.launches, kernel.name, kernel.template_head):
            return None
        return stmts, i, decl
    return None


def elementwise(kernel: KernelDef, data: bytes, unit: KernelUnit) -> Elementwise | None:
    """The kernel's elementwise shape, or None when it has another one."""
    found = first_index(kernel, data, unit)
    if found is None:
        return None
    stmts, i, (type_text, name, index, mult) = found
    if any(s.type != "declaration" for s in stmts[:i]):
        return None
    guarded = _find_guard(stmts[i + 1:], name, data)
    if guarded is None:
        return None
    guard, bound, extra = guarded
    then = guard.child_by_field_name("consequence")
    if writes(then, name, data) or _hidden_conflict(kernel, unit, name):
        return None
    return Elementwise(index_stmt=stmts[i], type_text=type_text, name=name, index=index, multiplier=mult,
                       guard=guard, bound=bound, then=then, extra=extra)
