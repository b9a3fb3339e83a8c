"""launch-bounds: give each kernel ``__launch_bounds__(threads, min_blocks)``.

The second argument asks the compiler to keep enough registers free for ``min_blocks`` resident
blocks per CU/SM (nvcc: minimum blocks per multiprocessor; clang's HIP reads it as an occupancy
floor). The first is the block size the launch already uses, so nothing changes what the kernel
computes: correct by construction, though a register cap may spill (timing tells).

A kernel declared through a function-like macro that carries the bounds (``#define KERNEL(NB_)
static __global__ __launch_bounds__(NB_) void``) gets the macro expanded in its own head; the macro
itself stays as it is for the unit's other functions.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from portkern.model import Target
from portkern.search.operators.base import Edit, KernelDef, KernelUnit, Operator, Rewrite, parse, text, walk

_BOUNDS_OPEN = re.compile(r"__launch_bounds__\s*\(")
_NAME_OPEN = re.compile(r"\b([A-Za-z_]\w*)\s*\(")


def _call_args(s: str, open_at: int) -> tuple[list[str], int] | None:
    """The top-level comma-separated arguments of the parenthesis opening at ``open_at`` (nested
    parentheses kept whole) and the offset just past its closing one; None when it does not close."""
    depth, start, args = 0, open_at + 1, []
    for i in range(open_at, len(s)):
        c = s[i]
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                args.append(s[start:i].strip())
                return ([] if args == [""] else args), i + 1
        elif c == "," and depth == 1:
            args.append(s[start:i].strip())
            start = i + 1
    return None


def bounded_head(head: str, template_head: str, macros, unit: KernelUnit, symbol: str, min_blocks: str) -> str | None:
    """The kernel head with ``__launch_bounds__(threads, min_blocks)``: the bounds it has (a kernel-declaring
    macro expanded in this head) get the second argument; a kernel without bounds gets the launch's block
    size when the kernel can name it at compile time; None when neither."""
    for m in _NAME_OPEN.finditer(head):
        if m.group(1) in macros:
            found = _call_args(head, m.end() - 1)
            params, body = macros[m.group(1)]
            if found is None or len(found[0]) != len(params):
                return None
            head = head[:m.start()] + _expand(body, params, found[0]) + head[found[1]:]
            break
    if "__global__" not in head:
        return None
    bounds = _BOUNDS_OPEN.search(head)
    if bounds:
        found = _call_args(head, bounds.end() - 1)
        if found is None or not found[0]:
            return None
        return head[:bounds.start()] + f"__launch_bounds__({found[0][0]}, {min_blocks})" + head[found[1]:]
    blocks = {str(launch.block[0]).strip() for launch in unit.launches if launch.symbol == symbol and launch.block}
    threads = blocks.pop() if len(blocks) == 1 else ""
    # Only a block size the kernel can name at compile time: a literal or one of its template parameters.
    if not threads or not (threads.isdigit() or re.search(rf"\bint\s+{re.escape(threads)}\b", template_head)):
        return None
    return head.replace("__global__", f"__global__ __launch_bounds__({threads}, {min_blocks})", 1)


def _function_macros(root: Node, data: bytes) -> dict[str, tuple[list[str], str]]:
    """Function-like macros of the unit whose expansion declares a kernel: name -> (params, body)."""
    out = {}
    for node in walk(root):
        if node.type != "preproc_function_def":
            continue
        name, params, value = (node.child_by_field_name(f) for f in ("name", "parameters", "value"))
        if name is None or params is None or value is None:
            continue
        body = text(value, data)
        if "__global__" in body:
            plist = [text(p, data) for p in params.named_children]
            out[text(name, data)] = (plist, body.strip())
    return out


def _expand(body: str, params: list[str], args: list[str]) -> str:
    mapping = dict(zip(params, args))
    return re.sub(r"\b[A-Za-z_]\w*\b", lambda m: mapping.get(m.group(0), m.group(0)), body)


class LaunchBounds(Operator):
    name = "launch-bounds"
    description = "set __launch_bounds__(block size, minimum resident blocks) on the kernels"
    by_construction = True
    order = 90

    def arguments(self, target: Target) -> list[int]:
        # Blocks per CU/SM worth asking for: up to the target's own limit.
        return [b for b in (1, 2, 4) if b <= target.max_blocks_per_cu]

    def apply(self, unit: KernelUnit, arg: int, target: Target) -> Rewrite | None:
        if arg < 1:
            return None
        data, root = parse(unit.source)
        macros = _function_macros(root, data)

        def bound(kernel: KernelDef, _data: bytes) -> list[Edit] | None:
            new_head = self._new_head(kernel.head, kernel.template_head, macros, unit, kernel.name, arg)
            if new_head is None or new_head == kernel.head:
                return None
            return [Edit(kernel.body.start_byte - len(kernel.head.encode()), kernel.body.start_byte, new_head)]

        return self.rewrite_kernels(unit, arg, bound, lambda names: f"__launch_bounds__ with at least {arg} resident "
                                                                    f"block(s) per CU/SM on {', '.join(names)}")

    def _new_head(self, head: str, template_head: str, macros, unit: KernelUnit, symbol: str,
                  arg: int) -> str | None:
        return bounded_head(head, template_head, macros, unit, symbol, str(arg))
