"""The analytic part of the performance model: a time from counts, before any learned correction.

time = max(bytes / (bandwidth x memory efficiency), FLOPs / (peak x compute efficiency)) + launches x overhead

- Memory efficiency follows Little's law: the device reaches its bandwidth only with about
  ``bandwidth x latency`` bytes in flight. Bytes in flight = resident threads x bytes each thread has
  outstanding (its element size, widened by vector types in the source, capped by what it moves at all).
- Compute efficiency falls with low occupancy (too few resident waves to hide latency; softly: a
  register-tiled loop hides latency with independent instructions instead of waves), a partial last
  wave of blocks (tail), CUs left without a block (fill), spills, and shared-memory instructions per
  arithmetic instruction in the compiled code: an SM issues four warps' FP32 instructions per clock
  but serves one warp's 32-bit shared-memory access (NVIDIA; a CU's LDS serves a wave64 access in
  about the time of two VALU wave instructions on AMD), so a loop that reads two operands from shared
  memory per multiply-add runs at a fraction of the FMA rate; register tiling is what removes them.

The constants are coarse on purpose: the learned part (``portkern.perfmodel.model``) corrects the
ratio to measured times; what matters here is that the formula moves in the right direction when a
candidate changes its block size, vector width, occupancy or grid.
"""

from __future__ import annotations

import math
from typing import Any

from portkern.model import ResourceReport, Target

# Memory latency a load sees under load, seconds (order of magnitude for HBM GPUs; the learned part
# absorbs the rest). AMD's is longer through its larger fabric.
LATENCY_S = {"nvidia": 650e-9, "amd": 900e-9}
LAUNCH_OVERHEAD_S = 3e-6
MAX_MEMORY_EFFICIENCY = 0.92     # copy kernels reach about this much of the data-sheet bandwidth
MAX_COMPUTE_EFFICIENCY = 0.75    # plain FMA loops without matrix units
SPILL_PENALTY = 0.7
# Cost of one shared-memory instruction in FP32-instruction issue slots (see the module docstring).
SHARED_COST = {"nvidia": 4.0, "amd": 2.0}
OCCUPANCY_EXPONENT = 0.35


def outstanding_bytes_per_thread(f: dict[str, float]) -> float:
    """Bytes one thread keeps in flight: its element size, x4 for vector types, x2 when unrolled."""
    width = f["elem_bytes"] * (4.0 if f.get("src_vector", 0) > 0 else 1.0)
    if f.get("src_unroll", 0) > 0:
        width *= 2.0
    per_thread = math.expm1(f["log_bytes_per_thread"])
    return max(1.0, min(per_thread, 2.0 * width))


def memory_efficiency(f: dict[str, float], target: Target, resident_threads: float) -> float:
    needed = target.peak_bandwidth_gbs * 1e9 * LATENCY_S.get(target.vendor, 800e-9)
    in_flight = resident_threads * outstanding_bytes_per_thread(f)
    return max(0.02, MAX_MEMORY_EFFICIENCY * min(1.0, in_flight / needed))


def compute_efficiency(f: dict[str, float], vendor: str = "nvidia") -> float:
    occ = f["occupancy"] if f["occupancy"] > 0 else 0.5
    eff = MAX_COMPUTE_EFFICIENCY * min(1.0, occ / 0.25) ** OCCUPANCY_EXPONENT * f["tail"] * max(f["fill"], 0.01)
    fp, shared = f.get("mix_fp", 0.0), f.get("mix_smem", 0.0)
    if fp > 0 and shared > 0:
        eff /= 1.0 + SHARED_COST.get(vendor, 4.0) * shared / fp
    return max(0.01, eff)


def resident_blocks(target: Target, geo: Any, resources: ResourceReport | None) -> int:
    """Blocks of this launch one CU/SM holds at once (at least one)."""
    waves_per_block = max(1, math.ceil(geo.threads_per_block / target.wavefront))
    occ = resources.occupancy_fraction if resources is not None and resources.occupancy_fraction > 0 else 1.0
    resident_waves = max(waves_per_block, int(round(occ * target.max_waves_per_cu)))
    return max(1, min(target.max_blocks_per_cu, resident_waves // waves_per_block))


def analytic_ms(f: dict[str, float], target: Target, geo, work, dtype: str,
                resources: ResourceReport | None) -> float:
    """The analytic time of one launch sequence in milliseconds (see the module docstring)."""
    concurrent_threads = resident_blocks(target, geo, resources) * target.compute_units * geo.threads_per_block
    resident = min(float(geo.total_threads), float(concurrent_threads))
    mem_s = work.bytes_moved / (target.peak_bandwidth_gbs * 1e9 * memory_efficiency(f, target, resident))
    flop_s = work.flops / (target.peak_flops_for(dtype) * compute_efficiency(f, target.vendor))
    seconds = max(mem_s, flop_s)
    if f["spills"]:
        seconds /= SPILL_PENALTY
    return (seconds + geo.launches * LAUNCH_OVERHEAD_S) * 1e3
