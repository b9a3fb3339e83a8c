"""The analytic part of the performance model: a time from counts, before any learned correction.

time = max(bytes / (bandwidth x memory efficiency), FLOPs / (peak x compute efficiency),
           blocks / CUs x block cost) + launches x overhead

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
# absorbs the rest). AMD's is longer through its larger fabric. NVIDIA's from an H100 (2026-12-07): a
# one-float-per-thread copy at 2^24 elements reached 0.64 of the data-sheet bandwidth with about 2.2 MB
# in flight, the 16-byte version 0.80 (cudaMemcpy 0.81).
LATENCY_S = {"nvidia": 830e-9, "amd": 900e-9}
LAUNCH_OVERHEAD_S = 3e-6
# The fraction of the data-sheet bandwidth copy kernels reach (H100: cudaMemcpy 2,711 of 3,350 GB/s).
MAX_MEMORY_EFFICIENCY = {"nvidia": 0.82, "amd": 0.92}
# Time an SM takes per block it starts and retires, seconds: a launch of many small blocks is bound by it
# (H100, 2026-12-07: 64-thread blocks over 2^24 elements took 0.16 ms whatever the kernel, 1,986 blocks per
# SM; 128-thread blocks 0.08 ms). Not measured on an AMD GPU: no such term there until it is.
BLOCK_COST_S = {"nvidia": 80e-9}
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
    return max(0.02, MAX_MEMORY_EFFICIENCY.get(target.vendor, 0.9) * min(1.0, in_flight / needed))


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
    block_s = geo.blocks / target.compute_units * BLOCK_COST_S.get(target.vendor, 0.0)
    seconds = max(mem_s, flop_s, block_s)
    if f["spills"]:
        seconds /= SPILL_PENALTY
    return (seconds + geo.launches * LAUNCH_OVERHEAD_S) * 1e3


def analytic_from_features(f: dict[str, float], target: Target, dtype: str) -> float:
    """The analytic time recomputed from a row's stored features (they hold everything the formula reads),
    so rows saved before a change of the formula are scored with the current one."""
    from types import SimpleNamespace

    from portkern.harness.roofline import Work

    threads = max(1, round(math.exp(f["log_threads_per_block"])))
    blocks = max(1, round(math.exp(f["log_blocks"])))
    geo = SimpleNamespace(threads_per_block=threads, blocks=blocks, total_threads=threads * blocks,
                          launches=int(f.get("launches", 1)), shared_bytes=int(f.get("shared_kb", 0.0) * 1024))
    work = Work(math.expm1(f["log_bytes"]), math.expm1(f["log_flops"]))
    occupancy = f.get("occupancy", 0.0)
    resources = ResourceReport(symbol="", occupancy_fraction=occupancy) if occupancy > 0 else None
    return analytic_ms(f, target, geo, work, dtype, resources)
