"""Trace runs: a trace build (see include/portkern_emu/trace.h) launched on a harness case, with the
counts of its warp-level memory requests read back.

``TraceJob`` travels to a sandboxed worker and ``run_trace_job`` runs there, like every emulator
launch of a candidate: the build's global constructors and its device code run only in the worker.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import numpy as np

from portkern.errors import LoadError
from portkern.harness.inputs import Case
from portkern.harness.runners.base import kernel_args
from portkern.model import CompileResult

from .backend import _open, is_trace_build

# Names of the counts portkern_emu_trace_collect returns, in its order (trace.h, enum Count).
COUNT_NAMES = (
    "global_requests", "global_load_requests", "global_store_requests", "global_atomic_requests",
    "global_lane_accesses", "global_bytes", "global_sectors", "global_lines", "shared_requests",
    "shared_lane_accesses", "shared_bytes", "shared_wavefronts", "shared_ideal_wavefronts",
    "shared_atomic_requests", "divergent_requests", "barriers", "other_accesses", "max_conflict_degree",
    "atomic_lane_accesses", "global_distinct_bytes",
)


@dataclass
class MemoryGeometry:
    """How the target's hardware splits a warp's request: global sectors and lines, shared banks."""

    sector_bytes: int = 32
    line_bytes: int = 128
    banks: int = 32
    bank_bytes: int = 4
    bank_lanes: int = 32        # lanes whose shared accesses the banks serve in one pass


@dataclass
class TraceJob:
    compiled: CompileResult
    case: Case
    geometry: MemoryGeometry = field(default_factory=MemoryGeometry)


ALLOCATION_ALIGNMENT = 256


def _aligned_copy(a: np.ndarray) -> np.ndarray:
    raw = np.empty(a.nbytes + ALLOCATION_ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALLOCATION_ALIGNMENT
    out = raw[start:start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


def run_trace_job(job: TraceJob) -> dict[str, float]:
    """Worker entry: launch every launch of the case on fresh buffers; return the summed counts plus
    ``threads``, ``warps`` and ``launches`` (what the counts are over)."""
    from portkern.backends import get

    if not is_trace_build(job.compiled):
        raise LoadError("run_trace_job needs a trace build",
                        hint="compile with CompileOptions(defines={'PORTKERN_EMU_TRACE': '1'})")
    backend = get("emu")
    library = _open(job.compiled.cache_key, job.compiled.binary)
    try:
        n_counts = library.portkern_emu_trace_counts
    except AttributeError:
        raise LoadError("the build has no trace hooks (portkern_emu_trace_counts missing)") from None
    n_counts.restype = ctypes.c_int
    width = int(n_counts())
    geo = job.geometry
    configure = library.portkern_emu_trace_configure
    configure.argtypes = [ctypes.c_uint] * 5
    configure(geo.sector_bytes, geo.line_bytes, geo.banks, geo.bank_bytes, geo.bank_lanes)
    set_buffers = library.portkern_emu_trace_buffers
    set_buffers.argtypes = [ctypes.POINTER(ctypes.c_ulonglong), ctypes.c_int]
    collect = library.portkern_emu_trace_collect
    collect.argtypes = [ctypes.POINTER(ctypes.c_double), ctypes.c_int]
    collect.restype = ctypes.c_int

    case = job.case
    # GPU allocators return 256-byte aligned memory; numpy's 16- or 64-byte alignment would split
    # coalesced requests across lines that a device allocation keeps whole.
    buffers = {name: [_aligned_copy(b) for b in bl] for name, bl in case.fresh_buffers().items()}
    address_tables: dict[str, np.ndarray] = {}
    for name, arg in case.arrays.items():
        if arg.batched == "pointers":
            address_tables[name] = np.array([b.ctypes.data for b in buffers[name]], dtype=np.uint64)
    ranges = [(b.ctypes.data, b.nbytes) for bl in buffers.values() for b in bl if b.nbytes]
    ranges += [(t.ctypes.data, t.nbytes) for t in address_tables.values()]
    flat = (ctypes.c_ulonglong * max(1, 2 * len(ranges)))(*[v for r in ranges for v in r])
    set_buffers(flat, len(ranges))

    def pointer_of(name: str):
        return address_tables[name] if name in address_tables else buffers[name][0]

    wave = job.compiled.options.wavefront or 32
    totals = dict.fromkeys(COUNT_NAMES, 0.0)
    out = (ctypes.c_double * width)()
    threads = warps = launches = 0
    for plan in case.launches:
        if 0 in plan.grid or 0 in plan.block:
            continue
        program = backend.load(job.compiled, plan.entry)
        program(*kernel_args(case, plan.args, pointer_of), grid=plan.grid, block=plan.block,
                shared_bytes=plan.shared_bytes, wait=True)
        got = collect(out, width)
        for i, name in enumerate(COUNT_NAMES[:got]):
            totals[name] = max(totals[name], out[i]) if name == "max_conflict_degree" else totals[name] + out[i]
        per_block = int(np.prod(plan.block))
        blocks = int(np.prod(plan.grid))
        threads += per_block * blocks
        warps += -(-per_block // wave) * blocks
        launches += 1
    set_buffers(flat, 0)
    return {**totals, "threads": float(threads), "warps": float(warps), "launches": float(launches)}
