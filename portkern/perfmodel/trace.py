"""Features from an instrumented emulator run of a candidate at a small size.

The candidate is built as an emulator trace build (every memory access of device code reports to the
runtime, backends/emu/include/portkern_emu/trace.h) and run on one harness case of its primary dtype
inside a sandboxed worker. Lanes of a warp making the same dynamic access form one request, which is
measured under the target vendor's memory geometry (``GEOMETRY``): sectors and lines a global request
touches, bank passes a shared-memory request needs, inactive lanes, atomics, barriers.

The counts come back as rates that do not depend on the problem size for the usual kernels (per
request, per warp, per thread, per byte of the manifest's minimal traffic), plus an estimate of the
bench size's transferred bytes, scaled by the manifest's work formula. ``trace_features`` returns {}
when no trace can be had (no host compiler, the build fails, the run crashes or hangs): a missing
trace is never an error of the caller.
"""

from __future__ import annotations

import math
import time
from typing import Any

from portkern.backends.emu.backend import TRACE_DEFINE
from portkern.backends.emu.trace import MemoryGeometry, TraceJob, run_trace_job
from portkern.errors import PortkernError
from portkern.harness.inputs import launch_plans, make_case
from portkern.harness.roofline import work_of
from portkern.harness.runners.base import get_runner
from portkern.harness.validate import build
from portkern.library import DTYPE_BYTES, KernelSpec, LibrarySpec, kernel_env
from portkern.model import CompileOptions, Target

# Memory geometry per vendor, with where each figure comes from.
GEOMETRY = {
    # CUDA C++ Best Practices Guide, "Coalesced Access to Global Memory": a warp's accesses are
    # served in 32-byte sectors; CUDA C++ Programming Guide, compute capability 5.x and later,
    # "Global Memory": a cache line is 128 bytes; "Shared Memory": 32 banks, successive 32-bit words
    # in successive banks, one 32-bit word per bank per clock, for the 32 threads of a warp.
    "nvidia": MemoryGeometry(sector_bytes=32, line_bytes=128, banks=32, bank_bytes=4, bank_lanes=32),
    # AMD ROCm Compute Profiler, conceptual docs for CDNA: vector L1 cache (vL1D/TCP) and L2 lines of
    # 128 bytes on MI300 (CDNA3), requests to the L2 in 64-byte units; "Local data share": 32 banks of
    # 4 bytes (128 bytes per clock), so a wave64 LDS access is served 32 lanes at a time.
    "amd": MemoryGeometry(sector_bytes=64, line_bytes=128, banks=32, bank_bytes=4, bank_lanes=32),
}

FEATURE_NAMES = (
    "trace_gmem_requests_per_warp", "trace_gmem_sectors_per_request", "trace_gmem_lines_per_request",
    "trace_gmem_coalescing", "trace_gmem_transfer_bytes_per_thread", "trace_gmem_amplification",
    "trace_log_bench_transfer_bytes", "trace_gmem_load_fraction", "trace_smem_requests_per_warp",
    "trace_smem_conflict", "trace_smem_max_conflict", "trace_divergent_fraction", "trace_atomics_per_thread",
    "trace_barriers_per_thread", "trace_gmem_accesses_per_thread", "trace_smem_accesses_per_thread",
)

TRACE_TIMEOUT_S = 60.0
# The largest validation size whose launches stay under this many threads is traced (a trace costs
# on the order of a microsecond per memory access on one CPU thread).
MAX_TRACE_THREADS = 1 << 17


def primary_dtype(kernel: KernelSpec) -> str:
    """The dtype the pipeline treats as primary (the rule of portkern.pipeline.kernels.primary_dtype)."""
    return "float32" if "float32" in kernel.dtypes else kernel.dtypes[0]


def memory_geometry(target: Target) -> MemoryGeometry:
    return GEOMETRY.get(target.vendor, GEOMETRY["nvidia"])


def _threads(kernel: KernelSpec, sizes: dict[str, int], dtype: str, params: dict[str, int] | None) -> int:
    plans = launch_plans(kernel, dtype, kernel_env(kernel, sizes, params))
    return sum(math.prod(p.grid) * math.prod(p.block) for p in plans)


def trace_sizes(kernel: KernelSpec, dtype: str, params: dict[str, int] | None) -> dict[str, int] | None:
    """The validation size the trace runs at: the one with the most work under MAX_TRACE_THREADS."""
    best: tuple[float, dict[str, int]] | None = None
    for sizes in kernel.sizes_validate:
        try:
            env = kernel_env(kernel, sizes, params)
            if not kernel.allows(env, DTYPE_BYTES[dtype]):
                continue
            threads = _threads(kernel, sizes, dtype, params)
            w = work_of(kernel, sizes, dtype, params)
        except (PortkernError, ArithmeticError, KeyError, TypeError, ValueError):
            continue
        if not 0 < threads <= MAX_TRACE_THREADS:
            continue
        amount = w.flops or w.bytes_moved
        if best is None or amount > best[0]:
            best = (amount, sizes)
    return dict(best[1]) if best else None


def trace_counts(kernel: KernelSpec, library: LibrarySpec, target: Target, source: str,
                 params: dict[str, int] | None, *, dtype: str | None = None,
                 sizes: dict[str, int] | None = None, timeout_s: float = TRACE_TIMEOUT_S) -> dict[str, Any]:
    """Raw counts of one trace run (see backends/emu/trace.py COUNT_NAMES) with ``sizes``, ``dtype``,
    ``build`` (the trace build's cache key) and ``seconds`` added. Raises a PortkernError when the build or the run fails."""
    dtype = dtype or primary_dtype(kernel)
    sizes = sizes or trace_sizes(kernel, dtype, params)
    if sizes is None:
        raise PortkernError(f"{kernel.name}: no validation size fits a trace run "
                            f"(at most {MAX_TRACE_THREADS} threads)")
    start = time.perf_counter()
    extra = CompileOptions(defines={TRACE_DEFINE: "1"}, wavefront=target.wavefront)
    compiled = build(library, kernel, target, runner="emu", source=source, params=params, dtypes=[dtype],
                     extra=extra)
    case = make_case(kernel, sizes, dtype, seed=1, params=params, reference_view=False)
    from portkern.worker import run_in_worker

    runner = get_runner("emu")
    counts = run_in_worker(run_trace_job, TraceJob(compiled, case, memory_geometry(target)),
                           timeout_s=timeout_s, label=f"{kernel.name} trace",
                           env=runner.worker_env(compiled), limit_memory=True)
    return {**counts, "sizes": dict(sizes), "dtype": dtype, "build": compiled.cache_key,
            "seconds": time.perf_counter() - start}


def rates(counts: dict[str, Any], geometry: MemoryGeometry, *, manifest_bytes: float = 0.0,
          work_scale: float = 1.0) -> dict[str, float]:
    """Size-independent rates from raw counts. ``manifest_bytes``: the manifest's bytes at the traced
    size; ``work_scale``: bench work over traced work (flops, else bytes) for the transfer estimate."""
    c = counts
    threads = max(1.0, c["threads"])
    warps = max(1.0, c["warps"])
    g_req = c["global_requests"]
    s_req = c["shared_requests"]
    transfer = c["global_sectors"] * geometry.sector_bytes
    return {
        "trace_gmem_requests_per_warp": g_req / warps,
        "trace_gmem_sectors_per_request": c["global_sectors"] / g_req if g_req else 0.0,
        "trace_gmem_lines_per_request": c["global_lines"] / g_req if g_req else 0.0,
        # Distinct bytes the lanes asked for over the bytes the sectors carry (1: fully coalesced).
        "trace_gmem_coalescing": c["global_distinct_bytes"] / transfer if transfer else 1.0,
        "trace_gmem_transfer_bytes_per_thread": transfer / threads,
        "trace_gmem_amplification": transfer / manifest_bytes if manifest_bytes > 0 else 0.0,
        "trace_log_bench_transfer_bytes": math.log10(1.0 + transfer * work_scale),
        "trace_gmem_load_fraction": c["global_load_requests"] / g_req if g_req else 0.0,
        "trace_smem_requests_per_warp": s_req / warps,
        "trace_smem_conflict": (c["shared_wavefronts"] / c["shared_ideal_wavefronts"]
                                if c["shared_ideal_wavefronts"] else 1.0),
        "trace_smem_max_conflict": max(1.0, c["max_conflict_degree"]) if s_req else 1.0,
        "trace_divergent_fraction": c["divergent_requests"] / (g_req + s_req) if g_req + s_req else 0.0,
        "trace_atomics_per_thread": c["atomic_lane_accesses"] / threads,
        "trace_barriers_per_thread": c["barriers"] / threads,
        "trace_gmem_accesses_per_thread": c["global_lane_accesses"] / threads,
        "trace_smem_accesses_per_thread": c["shared_lane_accesses"] / threads,
    }


def trace_features(kernel: KernelSpec, library: LibrarySpec, target: Target, source: str,
                   params: dict[str, int] | None, *, bench_sizes: dict[str, int] | None = None,
                   dtype: str | None = None, timeout_s: float = TRACE_TIMEOUT_S) -> dict[str, float]:
    """``FEATURE_NAMES`` of one candidate from a trace run of its primary dtype at a small size,
    scaled to ``bench_sizes`` (default: the kernel's first bench size); {} when tracing is unavailable."""
    dtype = dtype or primary_dtype(kernel)
    try:
        counts = trace_counts(kernel, library, target, source, params, dtype=dtype, timeout_s=timeout_s)
        traced = work_of(kernel, counts["sizes"], dtype, params)
        bench = bench_sizes or (kernel.sizes_bench[0] if kernel.sizes_bench else counts["sizes"])
        at_bench = work_of(kernel, bench, dtype, params)
    except (PortkernError, OSError, ArithmeticError, KeyError, TypeError, ValueError):
        return {}
    if traced.flops > 0 and at_bench.flops > 0:
        scale = at_bench.flops / traced.flops
    elif traced.bytes_moved > 0:
        scale = at_bench.bytes_moved / traced.bytes_moved
    else:
        scale = 1.0
    return rates(counts, memory_geometry(target), manifest_bytes=traced.bytes_moved, work_scale=scale)
