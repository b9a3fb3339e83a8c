"""fewer-blocks(K): a kernel that already walks its range in a grid-stride loop is launched with 1/K
of the blocks, so each thread walks K times as many elements and whatever a block does once (a block
reduction, its set-up) is done K times less often.

Recognised shape: a ``for`` loop whose start reads the block's position in x (``blockIdx.x``) and
whose step adds a multiple of the grid's size in x (``i += gridDim.x * NB``): it covers its range for
any number of blocks. The kernel text only gains a comment; what changes is the launch:

- a reduction's first stage (dot, nrm2, asum, iamax): its grid's x is a size argument of the kernel
  (``n_blocks``) that also tells the second stage how many partial results to fold and sizes the
  workspace. That argument's value is divided by K (``Candidate.size_scale``); every launch and
  buffer built from it follows, and the patch divides the host variable that feeds both launches;
- any other kernel whose grid's x is an expression: the launches of the kernel divide it by K, as
  ``grid-stride`` does, provided nothing but the loop reads the block's position in x.

A reduction then adds its terms in another order: validated against the float64 reference within
the kernel's tolerance, not correct by construction.
"""

from __future__ import annotations

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
    is_name,
    kernel_definitions,
    shrink_grids,
    splice,
    text,
    uses_block_position,
    walk,
)

_BLOCK_X = ("hipBlockIdx_x",)
_GRID_X = ("hipGridDim_x",)


def _reads(node: Node | None, data: bytes, base: str, hip_names: tuple[str, ...]) -> bool:
    """Whether ``node`` reads ``base``.x (or HIP's spelled-out name) anywhere."""
    if node is None:
        return False
    for n in walk(node):
        if n.type == "identifier" and text(n, data) in hip_names:
            return True
        if n.type == "field_expression":
            arg, field = n.child_by_field_name("argument"), n.child_by_field_name("field")
            if arg is not None and field is not None and text(arg, data) == base and text(field, data) == "x":
                return True
    return False


def grid_stride_loops(kernel: KernelDef, data: bytes) -> list[Node]:
    """The kernel's ``for`` loops that start at the block's position in x and step by a multiple of the
    grid's size in x (``+=``), in source order (vectorize leaves three: whole groups, the last elements,
    and the original loop where the vector path does not apply)."""
    found = []
    for node in walk(kernel.body):
        if node.type != "for_statement":
            continue
        init, update = node.child_by_field_name("initializer"), node.child_by_field_name("update")
        if update is None or update.type != "assignment_expression":
            continue
        op = update.child_by_field_name("operator")
        if op is None or text(op, data) != "+=":
            continue
        if _reads(init, data, "blockIdx", _BLOCK_X) and _reads(update.child_by_field_name("right"), data,
                                                                 "gridDim", _GRID_X):
            found.append(node)
    return found


class FewerBlocks(Operator):
    name = "fewer-blocks"
    description = "launch a grid-stride kernel (a reduction's first stage too) with 1/K of the blocks"
    by_construction = False
    order = 60

    def arguments(self, target: Target) -> list[int]:
        return [2, 4, 8, 16]

    def suggestions(self, tunables: dict[str, list[int]], target: Target) -> list[Suggestion]:
        """Reductions: with 16-byte loads (and a shuffle reduction at the target's width where the block
        sum is the library's helper), a block then folds 8 or 16 times as many elements; unrolled by 4,
        a thread keeps up to four loads in flight. Realised only where every step applies; a streaming
        kernel reaches its grid-stride loop through grid-stride."""
        vec, shuffle, unroll = ("vectorize", 4), ("warp-reduce", target.wavefront), ("unroll", 4)
        return [Suggestion(params=(), arg=8, steps=(vec, shuffle),
                           why="vector loads and a shuffle reduction, an eighth of the blocks"),
                Suggestion(params=(), arg=8, steps=(vec, unroll, shuffle),
                           why="vector loads four at a time and a shuffle reduction, an eighth of the blocks"),
                Suggestion(params=(), arg=16, steps=(vec, unroll, shuffle),
                           why="vector loads four at a time and a shuffle reduction, a sixteenth of the blocks "
                               "(at the library's default block count for 2^24 elements, about one resident wave)"),
                Suggestion(params=(), arg=8, steps=(vec,), why="vector loads, an eighth of the blocks"),
                Suggestion(params=(), arg=8, steps=(vec, unroll),
                           why="vector loads four at a time, an eighth of the blocks (a block sum that is not "
                               "the library's shuffle helper, as iamax's)")]

    def apply(self, unit: KernelUnit, arg: int, target: Target) -> Rewrite | None:
        if arg < 2:
            return None
        data, kernels = kernel_definitions(unit)
        edits: list[Edit] = []
        changed: list[str] = []
        factors: dict[str, int] = {}
        scale: dict[str, int] = {}
        for kernel in kernels:
            loops = grid_stride_loops(kernel, data)
            loop = loops[0] if loops else None
            launches = [launch for launch in unit.launches if launch.symbol == kernel.name and launch.grid]
            if loop is None or not launches:
                continue
            grid_x = {launch.grid[0].strip() for launch in launches}
            if len(grid_x) != 1:
                continue
            count = grid_x.pop()
            if is_name(count) and count in unit.sizes:
                # A count the launches share (a reduction's n_blocks): the argument itself is divided.
                scale[count] = arg
                how = f"{count} divided by {arg}"
            elif is_name(count) or uses_block_position(kernel.body, data, skip=[
                    c for each in loops for c in (each.child_by_field_name("initializer"),
                                                  each.child_by_field_name("update")) if c]):
                continue
            else:
                factors[kernel.name] = arg
                how = f"grid x divided by {arg}"
            indent = indent_of(loop, data)
            if indent.strip():
                continue
            edits.append(Edit(loop.start_byte, loop.start_byte,
                              f"// fewer-blocks: launched with 1/{arg} of the blocks ({how}): {arg} times the "
                              f"elements per thread\n{indent}"))
            changed.append(kernel.name)
        source = splice(unit, edits) if edits else None
        if source is None:
            return None
        return Rewrite(source=source, launches=shrink_grids(unit.launches, factors),
                       label=self.label(arg),
                       description=f"{', '.join(changed)} launched with 1/{arg} of the blocks: {arg} times the "
                                   "elements per thread, a block's fixed work done that much less often",
                       edits=changed, grid_shrink=factors, size_scale=scale)
