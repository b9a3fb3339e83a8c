"""Element pointers from offset helpers, read as subscripts (a step of vectorize, not an operator).

Libraries address an element through a helper that returns a pointer (rocBLAS's batch helpers)::

    auto tx = load_ptr_batch(x, batch, offset_x + tid * incx, stride_x);
    *ty = (*ty) + alpha * (*tx);

A helper qualifies when every definition of its name and parameter count in the unit is ``return E + offset;`` with
``offset`` the same parameter position in each, used nowhere in ``E``: the pointer it returns for an
offset ``a + b`` is then its pointer for ``a``, plus ``b``. Such a declaration inside the kernel,
whose offset argument is ``a + tid * s``, becomes the declaration with offset ``a``, and every ``*tx``
becomes ``tx[tid * s]``. Any other use of the pointer (arithmetic, passing it on, taking it as a
value) leaves the kernel as it is. The result addresses the same elements; vectorize, which reads
``p[tid * s]``, then applies (and validation checks the whole rewrite).
"""

from __future__ import annotations

from tree_sitter import Node

from portkern.search.operators.base import Edit, KernelDef, function_name, text, walk


def _parameter_names(fn: Node, data: bytes) -> list[str]:
    decl = fn.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    params = decl.child_by_field_name("parameters") if decl is not None else None
    names = []
    for p in params.named_children if params is not None else []:
        ids = [n for n in walk(p) if n.type == "identifier"]
        names.append(text(ids[-1], data) if ids else "")
    return names


def offset_helpers(root: Node, data: bytes) -> dict[tuple[str, int], int]:
    """(helper name, parameter count) -> the position of the offset parameter, for the functions of the
    unit that qualify (every overload of that name and count)."""
    found: dict[tuple[str, int], set[int] | None] = {}
    for fn in walk(root):
        if fn.type != "function_definition":
            continue
        name, body = function_name(fn), fn.child_by_field_name("body")
        if not name or body is None:
            continue
        stmts = [c for c in body.named_children if c.type != "comment"]
        params = _parameter_names(fn, data)
        key = (name, len(params))
        position = None
        if len(stmts) == 1 and stmts[0].type == "return_statement" and stmts[0].named_child_count == 1:
            expr = stmts[0].named_children[0]
            op = expr.child_by_field_name("operator") if expr.type == "binary_expression" else None
            right, left = expr.child_by_field_name("right"), expr.child_by_field_name("left")
            if op is not None and text(op, data) == "+" and right is not None and right.type == "identifier" and \
                    text(right, data) in params and text(right, data) not in {
                        text(n, data) for n in walk(left) if n.type == "identifier"}:
                position = params.index(text(right, data))
        if position is None:
            found[key] = None
        elif found.get(key, set()) is not None:
            found.setdefault(key, set()).add(position)
    return {key: next(iter(pos)) for key, pos in found.items() if pos is not None and len(pos) == 1}


def _split_sum(node: Node, name: str, data: bytes) -> tuple[str, str] | None:
    """(a, name * s) of an offset written ``a + name * s`` (or ``a + s * name``), ``a`` free of ``name``."""
    while node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    op = node.child_by_field_name("operator") if node.type == "binary_expression" else None
    if op is None or text(op, data) != "+":
        return None
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    if name in {text(n, data) for n in walk(left) if n.type == "identifier"}:
        return None
    rop = right.child_by_field_name("operator") if right.type == "binary_expression" else None
    if rop is None or text(rop, data) != "*":
        return None
    factors = [right.child_by_field_name("left"), right.child_by_field_name("right")]
    if sum(1 for f in factors if f.type == "identifier" and text(f, data) == name) != 1:
        return None
    other = next(f for f in factors if not (f.type == "identifier" and text(f, data) == name))
    if name in {text(n, data) for n in walk(other) if n.type == "identifier"}:
        return None
    return text(left, data), text(right, data)


def subscript_edits(kernel: KernelDef, body: list[Node], name: str, data: bytes,
                    helpers: dict[tuple[str, int], int]) -> list[Edit] | None:
    """The edits that turn the pointers of ``helpers`` (``offset_helpers``) declared in ``body`` (statements
    of the guarded body) into subscripts of ``name``; None when there is none or a pointer has another use."""
    if not helpers:
        return None
    edits: list[Edit] = []
    for stmt in body:
        if stmt.type != "declaration":
            continue
        inits = [c for c in stmt.named_children if c.type == "init_declarator"]
        if len(inits) != 1:
            continue
        declarator, value = inits[0].child_by_field_name("declarator"), inits[0].child_by_field_name("value")
        while declarator is not None and declarator.type == "pointer_declarator":
            declarator = declarator.child_by_field_name("declarator")
        if declarator is None or declarator.type != "identifier" or value is None or value.type != "call_expression":
            continue
        fn, args = value.child_by_field_name("function"), value.child_by_field_name("arguments")
        key = (text(fn, data) if fn is not None else "", args.named_child_count if args is not None else -1)
        if key not in helpers:
            continue
        offset = args.named_children[helpers[key]]
        split = _split_sum(offset, name, data)
        if split is None:
            continue
        pointer = text(declarator, data)
        uses = [n for n in walk(kernel.body) if n.type == "identifier" and text(n, data) == pointer
                and n.start_byte != declarator.start_byte]
        derefs = []
        for use in uses:
            parent = use.parent
            if parent is None or parent.type != "pointer_expression" or text(parent.child_by_field_name("operator"),
                                                                               data) != "*":
                return None
            # ``(*p)`` loses its parentheses too: ``(p[i]) + x`` would read to the grammar as a cast
            outer = parent.parent
            derefs.append(outer if outer is not None and outer.type == "parenthesized_expression" and
                          outer.named_child_count == 1 else parent)
        if not derefs:
            return None
        edits.append(Edit(offset.start_byte, offset.end_byte, split[0]))
        edits += [Edit(d.start_byte, d.end_byte, f"{pointer}[{split[1]}]") for d in derefs]
    return edits or None
