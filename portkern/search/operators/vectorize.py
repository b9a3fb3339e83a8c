"""vectorize(V): an elementwise kernel (``portkern.search.operators.elementwise``) handles V
consecutive elements per thread, with float2/float4/double2 loads and stores where they are safe.

Each thread takes the group [g*V, g*V + V) of indices, g being the original index; the launch has 1/V
of the blocks in x (the host code that launches the kernel is patched to match), unless the kernel reads
its block's position in x for more than its index, where the launch stays as it is (the groups of the
surplus threads then start past the bound). Per thread, at run time:

- vector path: the whole group is below the bound, every stride the accesses multiply the index by
  is 1, and every pointer is aligned for a V-element access at the group's start. Each array is read
  once as a vector (unless it is only stored to), the original statements run once per lane on
  registers, and each array written is stored back as a vector;
- scalar path otherwise (unaligned pointers, strides other than 1, and the tail past the last whole
  group): the original statements, once per index of the group that is below the bound.

A reduction's grid-stride loop ``for(I i = blockIdx.x * M + threadIdx.x; i < bound; i += gridDim.x * M)``
whose body only reads arrays at ``i`` (any statements; it accumulates into registers, and may use
``i`` as a value, as iamax does) walks groups of V consecutive
indices the same way: the groups partition the range, so every index is read once, though the
additions come in another order (validated within the reduction tolerance).

Element types without a native vector (``__half``) take V scalar accesses in the vector path too. The
body must be declarations of pointers and values that do not use the index, then statements whose
every array subscript by the index is ``p[i]`` or ``p[int64_t(i) * s]`` (one form per array), and
whose every store is a whole statement ``p[...] = ...`` / ``p[...] op= ...``: each element's result
then depends on that element (and its index, which each lane declares as before) only. Lanes run in order, so overlapping arrays (which BLAS
forbids) could differ from the original: checked by validation, not correct by construction.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

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
    kernel_definitions,
    splice,
    text,
    uses_block_position,
    walk,
)
from portkern.search.operators.elementwise import (
    Elementwise,
    block_size_matches,
    elementwise,
    index_declaration,
    writes,
)
from portkern.search.operators.offset_pointers import offset_helpers, subscript_edits

# Emitted once per unit (the first line marks it; a preprocessor guard would read as an architecture branch).
PRELUDE = """// portkern vectorize helpers: V-element loads/stores, native vector types where there is one
template <typename P>
struct portkern_pointee;
template <typename T>
struct portkern_pointee<T*>
{
    using type = T;
};
template <typename T>
struct portkern_pointee<const T*>
{
    using type = T;
};
template <typename T, int V>
struct portkern_vec_io
{
    static __device__ inline void load(const T* p, T* out)
    {
        for(int k = 0; k < V; ++k)
            out[k] = p[k];
    }
    static __device__ inline void store(T* p, const T* in)
    {
        for(int k = 0; k < V; ++k)
            p[k] = in[k];
    }
};
template <>
struct portkern_vec_io<float, 2>
{
    static __device__ inline void load(const float* p, float* out)
    {
        const float2 v = *reinterpret_cast<const float2*>(p);
        out[0] = v.x;
        out[1] = v.y;
    }
    static __device__ inline void store(float* p, const float* in)
    {
        *reinterpret_cast<float2*>(p) = make_float2(in[0], in[1]);
    }
};
template <>
struct portkern_vec_io<float, 4>
{
    static __device__ inline void load(const float* p, float* out)
    {
        const float4 v = *reinterpret_cast<const float4*>(p);
        out[0] = v.x;
        out[1] = v.y;
        out[2] = v.z;
        out[3] = v.w;
    }
    static __device__ inline void store(float* p, const float* in)
    {
        *reinterpret_cast<float4*>(p) = make_float4(in[0], in[1], in[2], in[3]);
    }
};
template <>
struct portkern_vec_io<double, 2>
{
    static __device__ inline void load(const double* p, double* out)
    {
        const double2 v = *reinterpret_cast<const double2*>(p);
        out[0] = v.x;
        out[1] = v.y;
    }
    static __device__ inline void store(double* p, const double* in)
    {
        *reinterpret_cast<double2*>(p) = make_double2(in[0], in[1]);
    }
};
template <>
struct portkern_vec_io<double, 4>
{
    static __device__ inline void load(const double* p, double* out)
    {
        portkern_vec_io<double, 2>::load(p, out);
        portkern_vec_io<double, 2>::load(p + 2, out + 2);
    }
    static __device__ inline void store(double* p, const double* in)
    {
        portkern_vec_io<double, 2>::store(p, in);
        portkern_vec_io<double, 2>::store(p + 2, in + 2);
    }
};
template <int V, typename T>
__device__ inline void portkern_vload(const T* p, T* out)
{
    portkern_vec_io<T, V>::load(p, out);
}
template <int V, typename T>
__device__ inline void portkern_vstore(T* p, const T* in)
{
    portkern_vec_io<T, V>::store(p, in);
}
// A V-element access at p is aligned (native vectors of more than 16 bytes are split in 16-byte halves).
template <int V, typename T>
__device__ inline bool portkern_vec_aligned(const T* p)
{
    const unsigned long long bytes = V * sizeof(T) > 16 ? 16 : V * sizeof(T);
    return reinterpret_cast<unsigned long long>(p) % bytes == 0;
}
"""

_SPACE = re.compile(r"\s+")
_STEP = ("=", "+=", "-=", "*=", "/=")
# A stride: a name or a number, or a name widened to 64 bits (``int64_t(incx)``, ``(int64_t)incx``).
_STRIDE = r"[A-Za-z_]\w*|\d+|int64_t\([A-Za-z_]\w*\)|\(int64_t\)[A-Za-z_]\w*"


def _index_form(index: str, name: str) -> str | None:
    """The stride of a subscript ``name``, ``int64_t(name)``, ... times a stride; None if another form."""
    flat = _SPACE.sub("", index)
    casts = (re.escape(name), rf"int64_t\({re.escape(name)}\)", rf"\(int64_t\){re.escape(name)}",
             rf"static_cast<int64_t>\({re.escape(name)}\)", rf"size_t\({re.escape(name)}\)")
    for cast in casts:
        if re.fullmatch(cast, flat):
            return "1"
        m = re.fullmatch(rf"{cast}\*({_STRIDE})", flat) or re.fullmatch(rf"({_STRIDE})\*{cast}", flat)
        if m and name not in re.findall(r"[A-Za-z_]\w*", m.group(1)):
            return m.group(1)
    return None


class _Access:
    def __init__(self, array: str, stride: str) -> None:
        self.array, self.stride = array, stride
        self.read = False
        self.written = False


def _accesses(stmts: list[Node], name: str, data: bytes, *,
              any_statement: bool = False) -> tuple[dict[str, _Access], bool] | None:
    """Per array: its stride and whether it is read and written, and whether the index is also used as a
    value; None when an array is indexed by it in another form, or anything but a whole statement stores
    to an array. ``any_statement``: control flow is allowed (for loops that store to no array)."""
    accesses: dict[str, _Access] = {}
    uses = 0
    for stmt in stmts:
        if not any_statement and stmt.type not in ("declaration", "expression_statement"):
            return None
        top = stmt.named_children[0] if stmt.type == "expression_statement" and stmt.named_child_count else None
        for node in walk(stmt):
            if node.type in ("update_expression", "assignment_expression") and node != top:
                target = node.child_by_field_name("left") or node.child_by_field_name("argument")
                if target is not None and target.type == "subscript_expression":
                    return None              # a store inside an expression: lanes could store conditionally
            if node.type != "subscript_expression":
                continue
            arr, idx = node.child_by_field_name("argument"), node.child_by_field_name("indices")
            if arr is None or idx is None or name not in identifiers_of(idx, data):
                continue
            if arr.type != "identifier":
                return None
            index = text(idx, data).strip()
            index = index[1:-1] if index.startswith("[") and index.endswith("]") else index
            stride = _index_form(index, name)
            if stride is None:
                return None
            acc = accesses.setdefault(text(arr, data), _Access(text(arr, data), stride))
            if acc.stride != stride:
                return None
            uses += 1
            parent = node.parent
            if top is not None and parent == top and parent.child_by_field_name("left") == node:
                acc.written = True
                op = parent.child_by_field_name("operator")
                if op is None or text(op, data) not in _STEP:
                    return None
                acc.read = acc.read or text(op, data) != "="
            elif top is not None and parent == top and top.type == "update_expression":
                acc.written = acc.read = True
            elif parent is not None and (parent.type in ("pointer_expression", "update_expression") or (
                    parent.type == "assignment_expression" and parent.child_by_field_name("left") == node)):
                return None              # an address taken, or a store nested in another expression
            else:
                acc.read = True
    index_uses = sum(1 for s in stmts for n in walk(s) if n.type == "identifier" and text(n, data) == name)
    if uses == 0:
        return None
    return accesses, index_uses != uses


def identifiers_of(node: Node, data: bytes) -> set[str]:
    return {text(n, data) for n in walk(node) if n.type == "identifier"}


def _lanes(stmts: list[Node], accesses: dict[str, _Access], name: str, lane: str, data: bytes) -> list[str]:
    """The statements with each subscript of the index replaced by the array's lane register."""
    out = []
    for stmt in stmts:
        edits = []
        for node in walk(stmt):
            if node.type == "subscript_expression":
                arr, idx = node.child_by_field_name("argument"), node.child_by_field_name("indices")
                if arr is not None and idx is not None and text(arr, data) in accesses and \
                        name in identifiers_of(idx, data):
                    edits.append((node.start_byte - stmt.start_byte, node.end_byte - stmt.start_byte,
                                  f"{text(arr, data)}_lanes[{lane}]"))
        s = text(stmt, data)
        for start, end, new in sorted(edits, reverse=True):
            s = s[:start] + new + s[end:]
        out.append(s)
    return out


class Vectorize(Operator):
    name = "vectorize"
    description = ("V consecutive elements per thread with vector loads/stores, an alignment and stride check "
                   "at run time and a scalar path for the rest")
    by_construction = False
    order = 5

    def arguments(self, target: Target) -> list[int]:
        return [2, 4]

    def suggestions(self, tunables: dict[str, list[int]], target: Target) -> list[Suggestion]:
        """Reductions: 16-byte loads feeding a shuffle reduction at the target's width. Measured on an H100
        at 2^24 elements (benchmarks/results/nvidia-h100-2026-12-07.md): nrm2 1.42x, asum 1.32x, dot 1.17x
        the library's kernels, while either step alone gained less; a search that changes one step at a
        time rarely puts the two together. Realised only where both steps apply (kernels with a
        reduction). Streaming kernels: 4 elements per thread with 1/4 of the blocks (with the launch
        kept as it was, they measured 0.8x there, 3 of 4 threads idle)."""
        return [Suggestion(params=(), arg=4, steps=(("warp-reduce", target.wavefront),),
                           why="vector loads feeding a shuffle reduction"),
                Suggestion(params=(), arg=4, why="16-byte accesses, a quarter of the blocks")]

    def apply(self, unit: KernelUnit, arg: int, target: Target) -> Rewrite | None:
        if arg not in (2, 4):
            return None
        shrunk: set[str] = set()

        def describe(names: list[str]) -> str:
            grid = f"; launched with 1/{arg} of the blocks" if shrunk else ""
            return (f"{arg} consecutive elements per thread (and per step of a grid-stride loop) in "
                    f"{', '.join(names)}: {arg}-wide vector accesses where aligned with stride 1, scalar "
                    f"otherwise and for the tail{grid}")

        done = self.rewrite_kernels(
            unit, arg, lambda kernel, data: self._rewrite(kernel, data, unit, arg, shrunk), describe,
            prelude=PRELUDE, shrink=lambda kernel: arg if kernel.name in shrunk else 1)
        if done is not None:
            return done
        # Elements addressed through an offset helper's pointers: read them as subscripts first.
        read = _pointers_as_subscripts(unit)
        if read is None:
            return None
        helpers = read[1]
        rw = self.rewrite_kernels(
            read[0], arg, lambda kernel, data: self._rewrite(kernel, data, read[0], arg, shrunk),
            lambda names: describe(names) + f" (element pointers of {', '.join(helpers)} read as subscripts)",
            prelude=PRELUDE, shrink=lambda kernel: arg if kernel.name in shrunk else 1)
        return rw

    def _rewrite(self, kernel: KernelDef, data: bytes, unit: KernelUnit, arg: int,
                 shrunk: set[str]) -> list[Edit] | None:
        """The edits for one kernel; an elementwise kernel whose position in x is its index alone is
        added to ``shrunk``: its launch gets 1/V of the blocks, each thread a group of V (without that,
        V-1 of every V threads would find their group past the bound and idle: measured 0.8x on an H100)."""
        shape = elementwise(kernel, data, unit)
        if shape is None:
            loops = [e for loop in _grid_stride_loops(kernel, data, unit)
                     for e in (self._loop_edits(loop, data, arg) or [])]
            return loops or None
        if shape.then.type != "compound_statement":
            return None
        body = [c for c in shape.then.named_children if c.type != "comment"]
        name = shape.name
        split = next((i for i, s in enumerate(body) if name in identifiers_of(s, data)), len(body))
        prefix, work = body[:split], body[split:]
        if any(s.type != "declaration" for s in prefix):
            return None
        found = _accesses(work, name, data)
        if found is None or not any(a.written for a in found[0].values()):
            return None
        if not uses_block_position(kernel.body, data, skip=shape.index_stmt):
            shrunk.add(kernel.name)
        return self._edits(shape, prefix, work, found, data, arg)

    def _edits(self, shape: Elementwise, prefix: list[Node], work: list[Node],
               found: tuple[dict[str, _Access], bool], data: bytes, arg: int) -> list[Edit]:
        accesses, as_value = found
        name, bound = shape.name, shape.bound
        first, lane, k = f"{name}_first", f"{name}_lane", f"{name}_k"
        ind = indent_of(shape.index_stmt, data)
        step = "    "
        i2, i3, i4 = step, step * 2, step * 3
        loop_type = re.sub(r"^\s*const\s+", "", shape.type_text)
        checks = [f"{first} + {arg} <= {bound}"]
        checks += [f"{a.stride} == 1" for a in accesses.values() if a.stride != "1"]
        checks += [f"portkern_vec_aligned<{arg}>({a.array} + {first})" for a in accesses.values()]
        lines = [f"// vectorize({arg}): {arg} consecutive elements per thread",
                 f"const int64_t {first} = int64_t({shape.index}) * {arg};"]
        extra = f" && ({shape.extra})" if shape.extra else ""
        block = [f"if({first} < {bound}{extra})", "{"]
        block += [f"{i2}{text(s, data)}" for s in prefix]
        block += [f"{i2}if({(' &&' + chr(10) + ind + i2 + '   ').join(checks)})", f"{i2}{{"]
        for a in accesses.values():
            block.append(f"{i3}typename portkern_pointee<decltype({a.array})>::type {a.array}_lanes[{arg}];")
            if a.read:
                block.append(f"{i3}portkern_vload<{arg}>({a.array} + {first}, {a.array}_lanes);")
        block += [f"{i3}for(int {lane} = 0; {lane} < {arg}; ++{lane})", f"{i3}{{"]
        if as_value:
            block.append(f"{i4}const {loop_type} {name} = {loop_type}({first} + {lane});")
        block += [f"{i4}{s}" for s in _lanes(work, accesses, name, lane, data)]
        block.append(f"{i3}}}")
        block += [f"{i3}portkern_vstore<{arg}>({a.array} + {first}, {a.array}_lanes);"
                  for a in accesses.values() if a.written]
        block += [f"{i2}}}", f"{i2}else", f"{i2}{{",
                  f"{i3}for(int64_t {k} = {first}; {k} < {first} + {arg} && {k} < {bound}; ++{k})", f"{i3}{{",
                  f"{i4}const {loop_type} {name} = {loop_type}({k});"]
        block += [f"{i4}{text(s, data)}" for s in work]
        block += [f"{i3}}}", f"{i2}}}", "}"]
        return [Edit(shape.index_stmt.start_byte, shape.index_stmt.end_byte, f"\n{ind}".join(lines)),
                Edit(shape.guard.start_byte, shape.guard.end_byte, f"\n{indent_of(shape.guard, data)}".join(block))]

    def _loop_edits(self, loop: _Loop, data: bytes, arg: int) -> list[Edit] | None:
        """A grid-stride loop that only reads arrays at its index walks groups of V consecutive indices:
        whole groups through V-wide loads when the strides are 1 and the arrays aligned (checked once,
        before the loop, so the loop holds nothing but loads and the body and ``unroll`` can keep
        several loads in flight), then the last elements one by one; the original loop otherwise."""
        body = loop.body
        work = [c for c in body.named_children if c.type != "comment"] if body.type == "compound_statement" else [body]
        found = _accesses(work, loop.name, data, any_statement=True)
        if found is None or any(a.written for a in found[0].values()):
            return None
        accesses, as_value = found
        name, bound, ind, step = loop.name, loop.bound, indent_of(loop.node, data), "    "
        group, groups, lane, k = f"{name}_group", f"{name}_groups", f"{name}_lane", f"{name}_k"
        checks = [f"{a.stride} == 1" for a in accesses.values() if a.stride != "1"]
        checks += [f"portkern_vec_aligned<{arg}>({a.array})" for a in accesses.values()]
        lines = [f"// vectorize({arg}): groups of {arg} consecutive elements, {arg}-wide loads where the strides "
                 "are 1 and the arrays aligned (checked once), the last elements one by one",
                 f"if({(' &&' + chr(10) + ind + '   ').join(checks)})", "{",
                 f"{step}const int64_t {groups} = int64_t({bound}) / {arg};",
                 f"{step}for(int64_t {group} = int64_t({loop.start}); {group} < {groups}; "
                 f"{group} += int64_t({loop.step}))", f"{step}{{"]
        for a in accesses.values():
            lines.append(f"{step * 2}typename portkern_pointee<decltype({a.array})>::type {a.array}_lanes[{arg}];")
            lines.append(f"{step * 2}portkern_vload<{arg}>({a.array} + {group} * {arg}, {a.array}_lanes);")
        lines += [f"{step * 2}for(int {lane} = 0; {lane} < {arg}; ++{lane})", f"{step * 2}{{"]
        if as_value:
            lines.append(f"{step * 3}const {loop.type_text} {name} = {loop.type_text}({group} * {arg} + {lane});")
        lines += [f"{step * 3}{s}" for s in _lanes(work, accesses, name, lane, data)]
        lines += [f"{step * 2}}}", f"{step}}}",
                  f"{step}for(int64_t {k} = {groups} * {arg} + int64_t({loop.start}); {k} < {bound}; "
                  f"{k} += int64_t({loop.step}))",
                  f"{step}{{", f"{step * 2}const {loop.type_text} {name} = {loop.type_text}({k});"]
        lines += [f"{step * 2}{text(s, data)}" for s in work]
        lines += [f"{step}}}", "}", "else", "{", step + text(loop.node, data).replace("\n", "\n" + step), "}"]
        return [Edit(loop.node.start_byte, loop.node.end_byte, f"\n{ind}".join(lines))]


def _pointers_as_subscripts(unit: KernelUnit) -> tuple[KernelUnit, list[str]] | None:
    """The unit with the element pointers of offset helpers in its elementwise kernels read as subscripts
    (``portkern.search.operators.offset_pointers``), and the helpers' names; None when there are none."""
    data, kernels = kernel_definitions(unit)
    if not kernels:
        return None
    root = kernels[0].node
    while root.parent is not None:
        root = root.parent
    helpers = offset_helpers(root, data)
    edits: list[Edit] = []
    for kernel in kernels:
        shape = elementwise(kernel, data, unit)
        if shape is None or shape.then.type != "compound_statement":
            continue
        body = [c for c in shape.then.named_children if c.type != "comment"]
        edits += subscript_edits(kernel, body, shape.name, data, helpers) or []
    source = splice(unit, edits) if edits else None
    if source is None:
        return None
    return dataclasses.replace(unit, source=source), sorted({h for h, _ in helpers if h in source})


@dataclass
class _Loop:
    node: Node                           # the for statement
    type_text: str                       # the index's type
    name: str                            # the index
    start: str                           # blockIdx.x * M + threadIdx.x
    step: str                            # gridDim.x * M
    bound: str
    body: Node


def _grid_stride_loops(kernel: KernelDef, data: bytes, unit: KernelUnit) -> list[_Loop]:
    """``for(I i = blockIdx.x * M + threadIdx.x; i < bound; i += gridDim.x * M)`` loops at the top level of
    the kernel's body, M being the launch's block size (so the threads' indices cover every index)."""
    out = []
    for node in kernel.body.named_children:
        if node.type != "for_statement":
            continue
        init, cond, update, body = (node.child_by_field_name(f) for f in ("initializer", "condition", "update", "body"))
        if init is None or cond is None or update is None or body is None or init.type != "declaration":
            continue
        decl = index_declaration(init, data)
        if decl is None or not block_size_matches(decl[3], unit.launches, kernel.name, kernel.template_head):
            continue
        type_text, name, start, mult = decl
        if cond.type != "binary_expression" or text(cond.child_by_field_name("left"), data) != name or \
                text(cond.child_by_field_name("operator"), data) != "<":
            continue
        bound = text(cond.child_by_field_name("right"), data)
        if name in identifiers_of(cond.child_by_field_name("right"), data):
            continue
        if update.type != "assignment_expression" or text(update.child_by_field_name("left"), data) != name or \
                text(update.child_by_field_name("operator"), data) != "+=":
            continue
        step = _SPACE.sub("", text(update.child_by_field_name("right"), data))
        if step not in (f"gridDim.x*{mult}", f"{mult}*gridDim.x"):
            continue
        if writes(body, name, data) or any(n.type in ("break_statement", "continue_statement", "return_statement",
                                                        "goto_statement") for n in walk(body)):
            continue
        out.append(_Loop(node=node, type_text=re.sub(r"^\s*const\s+", "", type_text), name=name, start=start,
                         step=f"gridDim.x * {mult}", bound=bound, body=body))
    return out
