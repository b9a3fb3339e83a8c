"""cache-hints(M): cache hints on a kernel's global-memory accesses, spelled for the unit's dialect.

- M & 1, read-only loads: ``p[i]`` read through a pointer to const becomes a load through the
  read-only/non-coherent path (CUDA ``__ldg``) or a non-temporal load (HIP/clang
  ``__builtin_nontemporal_load``);
- M & 2, streaming stores: a statement ``p[i] = value;`` becomes a streaming store (CUDA ``__stcs``,
  evict-first) or a non-temporal store (HIP/clang ``__builtin_nontemporal_store``).

Only pointers that are kernel parameters, or locals computed from a parameter (the batch pointer of
``load_ptr_batch(x, ...)``), are hinted: never shared memory or registers; and a kernel whose blocks
communicate through memory (atomics, fences, volatile) is left alone. The hints go through small
overloaded helpers, so element types without a hinted spelling (``__half``) keep plain accesses. A
hint changes no value unless a const input aliases an output the kernel writes (BLAS forbids it):
checked by validation, not correct by construction.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from portkern.model import Target
from portkern.search.operators.base import Edit, KernelDef, KernelUnit, Operator, Rewrite, text, walk

_LOADS, _STORES = 1, 2
_COMMUNICATES = re.compile(r"\batomic\w*|__threadfence\w*|\bvolatile\b|__hip_atomic\w*")
_SPELLING = {
    "cuda": ("__ldg(p)", "__stcs(p, v)"),
    "hip": ("__builtin_nontemporal_load(p)", "__builtin_nontemporal_store(v, p)"),
}
_PRELUDE = """// portkern cache-hint helpers: hinted loads/stores for float and double, plain ones otherwise
template <typename T>
__device__ inline T portkern_load_ro(const T* p)
{{
    return *p;
}}
__device__ inline float portkern_load_ro(const float* p)
{{
    return {load};
}}
__device__ inline double portkern_load_ro(const double* p)
{{
    return {load};
}}
template <typename T, typename U>
__device__ inline void portkern_store_stream(T* p, const U& v)
{{
    *p = v;
}}
__device__ inline void portkern_store_stream(float* p, float v)
{{
    {store};
}}
__device__ inline void portkern_store_stream(double* p, double v)
{{
    {store};
}}
"""


def prelude(dialect: str) -> str:
    load, store = _SPELLING["cuda" if dialect == "cuda" else "hip"]
    return _PRELUDE.format(load=load, store=store)


def _pointer_name(declarator: Node, data: bytes) -> str:
    """The name of a one-level pointer declarator (``* name``, ``* const name``, ``* __restrict__ name``)."""
    if declarator.type == "init_declarator":
        declarator = declarator.child_by_field_name("declarator")
    if declarator is None or declarator.type != "pointer_declarator":
        return ""
    inner = declarator.child_by_field_name("declarator")
    return text(inner, data) if inner is not None and inner.type == "identifier" else ""


def _global_pointers(kernel: KernelDef, data: bytes) -> dict[str, bool]:
    """Pointers of the kernel that reach global memory: name -> whether the pointee is const."""
    params: dict[str, bool] = {}
    declarator = kernel.node.child_by_field_name("declarator")
    while declarator is not None and declarator.type != "function_declarator":
        declarator = declarator.child_by_field_name("declarator")
    plist = declarator.child_by_field_name("parameters") if declarator is not None else None
    param_names = set()
    for p in (plist.named_children if plist is not None else []):
        if p.type != "parameter_declaration":
            continue
        d = p.child_by_field_name("declarator")
        if d is not None and d.type == "identifier":
            param_names.add(text(d, data))
        name = _pointer_name(d, data) if d is not None else ""
        if name:
            params[name] = any(c.type == "type_qualifier" and text(c, data) == "const" for c in p.children)
            param_names.add(name)
    shared = set()
    for node in walk(kernel.body):
        if node.type == "declaration" and "__shared__" in text(node, data):
            shared |= {text(n, data) for n in walk(node) if n.type == "identifier"}
    for node in walk(kernel.body):
        if node.type != "declaration":
            continue
        const = any(c.type == "type_qualifier" and text(c, data) == "const" for c in node.children)
        for d in node.named_children:
            if d.type != "init_declarator":
                continue
            name, value = _pointer_name(d, data), d.child_by_field_name("value")
            if not name or value is None:
                continue
            used = {text(n, data) for n in walk(value) if n.type == "identifier"}
            if used & param_names and not used & shared:
                params[name] = const
    return params


class CacheHints(Operator):
    name = "cache-hints"
    description = ("read-only loads through the non-coherent/non-temporal path and streaming stores, "
                   "spelled for the dialect (1 loads, 2 stores, 3 both)")
    by_construction = False
    order = 40

    def arguments(self, target: Target) -> list[int]:
        return [_LOADS, _STORES, _LOADS | _STORES]

    def apply(self, unit: KernelUnit, arg: int, target: Target) -> Rewrite | None:
        if arg not in (1, 2, 3):
            return None
        what = {1: "read-only loads", 2: "streaming stores", 3: "read-only loads and streaming stores"}[arg]
        return self.rewrite_kernels(unit, arg, lambda kernel, data: self._rewrite(kernel, data, arg),
                                    lambda names: f"{what} in {', '.join(names)}", prelude=prelude(unit.dialect))

    def _rewrite(self, kernel: KernelDef, data: bytes, arg: int) -> list[Edit] | None:
        if _COMMUNICATES.search(text(kernel.body, data)):
            return None                      # blocks talk through memory: a hinted access may not see the others
        pointers = _global_pointers(kernel, data)
        loads = self._loads(kernel, data, pointers) if arg & _LOADS else []
        if not arg & _STORES:
            return loads or None
        edits: list[Edit] = []
        for node in walk(kernel.body):
            if node.type != "expression_statement" or not node.named_child_count:
                continue
            expr = node.named_children[0]
            if expr.type != "assignment_expression" or text(expr.child_by_field_name("operator"), data) != "=":
                continue
            left, right = expr.child_by_field_name("left"), expr.child_by_field_name("right")
            arr = left.child_by_field_name("argument") if left.type == "subscript_expression" else None
            if arr is None or arr.type != "identifier" or pointers.get(text(arr, data)) is not False:
                continue
            inner = [e for e in loads if expr.start_byte <= e.start < expr.end_byte]
            loads = [e for e in loads if e not in inner]
            value = right.start_byte
            hinted = text(right, data).encode()
            for e in sorted(inner, key=lambda e: e.start, reverse=True):
                hinted = hinted[:e.start - value] + e.text.encode() + hinted[e.end - value:]
            edits.append(Edit(expr.start_byte, expr.end_byte,
                              f"portkern_store_stream(&{text(left, data)}, {hinted.decode()})"))
        return edits + loads or None

    @staticmethod
    def _loads(kernel: KernelDef, data: bytes, pointers: dict[str, bool]) -> list[Edit]:
        edits: list[Edit] = []
        for node in walk(kernel.body):
            if node.type != "subscript_expression":
                continue
            arr, parent = node.child_by_field_name("argument"), node.parent
            if arr is None or arr.type != "identifier" or not pointers.get(text(arr, data)):
                continue
            if parent is not None and parent.type in ("pointer_expression", "update_expression"):
                continue
            if parent is not None and parent.type == "assignment_expression" and \
                    parent.child_by_field_name("left") == node:
                continue
            if any(e.start <= node.start_byte < e.end for e in edits):
                continue                     # inside a subscript already hinted (p[q[i]])
            edits.append(Edit(node.start_byte, node.end_byte, f"portkern_load_ro(&{text(node, data)})"))
        return edits
