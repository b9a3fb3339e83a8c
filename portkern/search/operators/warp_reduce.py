"""warp-reduce(W): a kernel's block sum becomes one written for the target's wavefront width W
(32 on NVIDIA targets, 64 on CDNA: read from the target, and emitted as a constant).

The call it replaces is ``<prefix>block_reduce_sum<NB>(value)`` with NB the kernel's 1-D launch
block size: a sum over the block, valid in thread 0, ending with a barrier (the contract of such
helpers, which use the run-time ``warpSize``). With W known at compile time, the shuffle loops unroll,
the shared array has exactly NB / W slots, and the second stage runs only as many shuffle steps as
there are wavefronts (log2 of NB / W, not log2 of W). The addition order at W is the one the
run-time helper has at W, but the helper is recognised by its name, so validation checks the sum.
"""

from __future__ import annotations

import re

from portkern.model import Target
from portkern.search.operators.base import Edit, KernelDef, KernelUnit, Operator, Rewrite, text, walk
from portkern.search.operators.elementwise import block_size_matches

_CALLEE = re.compile(r"^\w*block_reduce_sum$")

# {shfl} is the dialect's spelling of a width-W shuffle down.
_PRELUDE = """// portkern warp-reduce helpers: block sums with shuffles of a fixed wavefront width W
template <int W, int LANES, typename T>
__device__ inline T portkern_wave_reduce_sum_w(T val)
{{
#pragma unroll
    for(int offset = LANES / 2; offset > 0; offset >>= 1)
        val += {shfl};
    return val;
}}
// Sum over a 1-D block of NB threads, valid in thread 0; ends with a barrier, so callers may loop.
template <int NB, int W, typename T>
__device__ inline T portkern_block_reduce_sum_w(T val)
{{
    static_assert(NB % W == 0, "warp-reduce needs a block size that is a multiple of the wavefront width");
    constexpr int waves = NB / W;
    static_assert(waves <= W, "warp-reduce: more wavefronts than lanes");
    constexpr int lanes = waves <= 1 ? 1 : waves <= 2 ? 2 : waves <= 4 ? 4 : waves <= 8 ? 8 : waves <= 16 ? 16
                          : waves <= 32 ? 32 : 64;
    __shared__ T portkern_wave_sums[waves];
    const int lane = threadIdx.x % W;
    const int wave = threadIdx.x / W;
    val = portkern_wave_reduce_sum_w<W, W>(val);
    if(lane == 0)
        portkern_wave_sums[wave] = val;
    __syncthreads();
    if(wave == 0)
    {{
        val = lane < waves ? portkern_wave_sums[lane] : T(0);
        val = portkern_wave_reduce_sum_w<W, lanes>(val);
    }}
    __syncthreads();
    return val;
}}
"""
_SHUFFLE = {"hip": "__shfl_down(val, offset, W)", "cuda": "__shfl_down_sync(0xffffffffu, val, offset, W)"}


def prelude(dialect: str) -> str:
    return _PRELUDE.format(shfl=_SHUFFLE["cuda" if dialect == "cuda" else "hip"])


def _one_dimensional(unit: KernelUnit, symbol: str) -> bool:
    blocks = [launch.block for launch in unit.launches if launch.symbol == symbol]
    return bool(blocks) and all(b and all(str(d).strip() in ("1", "") for d in b[1:]) for b in blocks)


class WarpReduce(Operator):
    name = "warp-reduce"
    description = "replace a kernel's block sum with shuffles of the target's fixed wavefront width"
    by_construction = False
    order = 20

    def arguments(self, target: Target) -> list[int]:
        return [target.wavefront]

    def apply(self, unit: KernelUnit, arg: int, target: Target) -> Rewrite | None:
        if arg != target.wavefront:
            return None                      # the width is the target's, never another
        return self.rewrite_kernels(
            unit, arg, lambda kernel, data: self._rewrite(kernel, data, unit, arg),
            lambda names: f"block sum of {', '.join(names)} with {arg}-lane shuffles (width fixed at compile time)",
            prelude=prelude(unit.dialect))

    def _rewrite(self, kernel: KernelDef, data: bytes, unit: KernelUnit, arg: int) -> list[Edit] | None:
        if not _one_dimensional(unit, kernel.name):
            return None
        edits = []
        for node in walk(kernel.body):
            if node.type != "call_expression":
                continue
            fn, args = node.child_by_field_name("function"), node.child_by_field_name("arguments")
            if fn is None or args is None or fn.type != "template_function" or args.named_child_count != 1:
                continue
            name, targs = fn.child_by_field_name("name"), fn.child_by_field_name("arguments")
            if name is None or targs is None or not _CALLEE.match(text(name, data)) or targs.named_child_count != 1:
                continue
            block = text(targs.named_children[0], data)
            if not block_size_matches(re.sub(r"\s+", "", block), unit.launches, kernel.name,
                                      kernel.template_head):
                continue
            edits.append(Edit(fn.start_byte, fn.end_byte, f"portkern_block_reduce_sum_w<{block}, {arg}>"))
        return edits or None
