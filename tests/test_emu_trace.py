"""Trace builds of the emulator and the performance model's trace features.

Real kernels of libraries/blas are traced in the sandboxed worker; a small shared-memory transpose
written here shows bank conflicts with and without a padded tile.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from portkern.backends import get
from portkern.backends.emu import toolchain
from portkern.backends.emu.backend import TRACE_DEFINE
from portkern.backends.emu.trace import COUNT_NAMES, MemoryGeometry, TraceJob, run_trace_job

from portkern.harness.inputs import ArrayArg, Case, LaunchPlan
from portkern.harness.validate import kernel_source
from portkern.library import load_library
from portkern.model import CompileOptions
from portkern.perfmodel import trace
from portkern.targets import get_target
from portkern.worker import run_in_worker

pytestmark = pytest.mark.skipif(toolchain.find_compiler() is None, reason="no host C++ compiler for the emulator")

NVIDIA = trace.GEOMETRY["nvidia"]


@pytest.fixture(scope="module")
def blas():
    lib = load_library("blas")
    return lib, {k.name: k for k in lib.kernels}


def _axpy_rates(blas, incx: int) -> dict[str, float]:
    lib, kernels = blas
    k = kernels["axpy"]
    counts = trace.trace_counts(k, lib, get_target("h200"), kernel_source(lib, k), dict(k.defaults),
                                dtype="float32", sizes={"n": 4096, "incx": incx, "incy": 1})
    assert counts["global_requests"] == 3 * 4096 / 32      # load x, load y, store y per warp
    return trace.rates(counts, NVIDIA)


@pytest.mark.slow
def test_unit_stride_axpy_touches_one_line_per_request_and_strided_many(blas):
    unit = _axpy_rates(blas, 1)
    assert unit["trace_gmem_lines_per_request"] == pytest.approx(1.0)
    assert unit["trace_gmem_sectors_per_request"] == pytest.approx(4.0)   # 32 lanes x 4 bytes
    assert unit["trace_gmem_coalescing"] == pytest.approx(1.0)
    strided = _axpy_rates(blas, 8)
    # x with incx=8: lanes 32 bytes apart, one sector each (32) and four to a line (8); y stays at 4 and 1.
    assert strided["trace_gmem_sectors_per_request"] == pytest.approx((32 + 4 + 4) / 3)
    assert strided["trace_gmem_lines_per_request"] == pytest.approx((8 + 1 + 1) / 3)
    assert strided["trace_gmem_coalescing"] < 0.5 * unit["trace_gmem_coalescing"]


_TRANSPOSE = """
template <int PAD>
__global__ void transpose_tile(const float* in, float* out) {
  __shared__ float tile[32][32 + PAD];
  tile[threadIdx.y][threadIdx.x] = in[threadIdx.y * 32 + threadIdx.x];
  __syncthreads();
  out[threadIdx.y * 32 + threadIdx.x] = tile[threadIdx.x][threadIdx.y];
}
__global__ void count_up(int* counter) { atomicAdd(counter, 1); }
"""


def _case(arrays: dict[str, np.ndarray], entry: str, block: tuple[int, int, int]) -> Case:
    args = {n: ArrayArg(n, "inout", str(a.dtype), a.size, 1, "", a.size, [a]) for n, a in arrays.items()}
    return Case(kernel=entry, sizes={}, dtype="float32", seed=0, variant="standard", env={}, arrays=args,
                launches=[LaunchPlan(entry, (1, 1, 1), block, 0, list(arrays))])


@pytest.fixture(scope="module")
def transpose_build():
    opts = CompileOptions(defines={TRACE_DEFINE: "1"}, wavefront=32,
                          entries=["transpose_tile<0>", "transpose_tile<1>", "count_up"])
    return get("emu").compile(_TRANSPOSE, None, opts, name="transpose_tile")


def _traced(compiled, case: Case, geometry: MemoryGeometry = NVIDIA) -> dict[str, float]:
    return run_in_worker(run_trace_job, TraceJob(compiled, case, geometry), timeout_s=60, label="trace test",
                         limit_memory=True)


def test_padded_shared_tile_has_no_bank_conflicts_and_unpadded_one_has_32_way(transpose_build):
    x = np.arange(1024, dtype=np.float32)
    plain = _traced(transpose_build, _case({"in": x, "out": np.zeros(1024, np.float32)}, "transpose_tile<0>",
                                           (32, 32, 1)))
    padded = _traced(transpose_build, _case({"in": x, "out": np.zeros(1024, np.float32)}, "transpose_tile<1>",
                                            (32, 32, 1)))
    for counts in (plain, padded):
        assert counts["shared_requests"] == 64          # 32 warps: one store, one load each
        assert counts["barriers"] == 1024               # one per thread
        assert counts["threads"] == 1024 and counts["warps"] == 32
    # Unpadded: the column read puts all 32 lanes in one bank (32 passes); the row write needs 1.
    assert plain["max_conflict_degree"] == 32
    assert plain["shared_wavefronts"] == 32 * 32 + 32
    assert padded["max_conflict_degree"] == 1
    assert padded["shared_wavefronts"] == 64
    rp, rq = trace.rates(plain, NVIDIA), trace.rates(padded, NVIDIA)
    assert rp["trace_smem_conflict"] == pytest.approx(16.5) and rq["trace_smem_conflict"] == 1.0


def test_atomics_are_counted_and_performed(transpose_build):
    counter = np.zeros(1, np.int32)
    counts = _traced(transpose_build, _case({"counter": counter}, "count_up", (64, 1, 1)))
    assert counts["atomic_lane_accesses"] == 64
    assert counts["global_atomic_requests"] == 2        # two warps of 32
    assert counts["global_sectors"] == 2                # every lane hits the same word


def test_amd_geometry_runs_wave64_and_serves_lds_32_lanes_at_a_time():
    opts = CompileOptions(defines={TRACE_DEFINE: "1"}, wavefront=64, entries=["transpose_tile<0>"])
    compiled = get("emu").compile(_TRANSPOSE, None, opts, name="transpose_tile")
    x = np.arange(1024, dtype=np.float32)
    counts = _traced(compiled, _case({"in": x, "out": np.zeros(1024, np.float32)}, "transpose_tile<0>",
                                     (32, 32, 1)), trace.GEOMETRY["amd"])
    assert counts["warps"] == 16 and counts["shared_requests"] == 32
    # Column read: each 32-lane half of a wave64 is 32-way conflicted; the row write takes 2 passes.
    assert counts["shared_wavefronts"] == 16 * (2 * 32 + 2)


@pytest.mark.slow
def test_trace_build_is_cached_apart_and_never_loaded_by_the_caller(blas):
    lib, kernels = blas
    k = kernels["axpy_unit_stride"]
    emu = get("emu")
    plain = emu.compile("__global__ void k(float* x) { x[threadIdx.x] = 1.f; }", None,
                        CompileOptions(entries=["k"]), name="k")
    traced = emu.compile("__global__ void k(float* x) { x[threadIdx.x] = 1.f; }", None,
                         CompileOptions(entries=["k"], defines={TRACE_DEFINE: "1"}), name="k")
    assert plain.cache_key != traced.cache_key
    counts = trace.trace_counts(k, lib, get_target("h200"), kernel_source(lib, k), dict(k.defaults))
    assert counts["global_requests"] > 0
    assert counts["build"] != plain.cache_key
    maps = Path("/proc/self/maps").read_text()
    assert counts["build"] not in maps and traced.cache_key not in maps   # traces run in workers only


@pytest.mark.slow
def test_a_candidate_that_crashes_in_trace_mode_yields_no_features(blas):
    lib, kernels = blas
    k = kernels["axpy_unit_stride"]
    source = kernel_source(lib, k).replace("const I    tid   = (blockIdx.x * NB + threadIdx.x) * 2;",
                                           "const I    tid   = (blockIdx.x * NB + threadIdx.x) * 2;\n"
                                           "    if(tid == 64) __builtin_trap();")
    assert "__builtin_trap" in source
    assert trace.trace_features(k, lib, get_target("h200"), source, dict(k.defaults)) == {}


@pytest.mark.slow
def test_a_candidate_that_hangs_in_trace_mode_yields_no_features(blas):
    lib, kernels = blas
    k = kernels["axpy_unit_stride"]
    source = kernel_source(lib, k).replace("const I    tid   = (blockIdx.x * NB + threadIdx.x) * 2;",
                                           "const I    tid   = (blockIdx.x * NB + threadIdx.x) * 2;\n"
                                           "    for(volatile int spin = 0; tid == 64; spin = spin + 1) {}")
    assert "spin" in source
    assert trace.trace_features(k, lib, get_target("h200"), source, dict(k.defaults), timeout_s=3) == {}


@pytest.mark.slow
def test_trace_features_names_and_scaling(blas):
    lib, kernels = blas
    k = kernels["axpy_unit_stride"]
    f = trace.trace_features(k, lib, get_target("h200"), kernel_source(lib, k), dict(k.defaults))
    assert set(f) == set(trace.FEATURE_NAMES)
    assert all(math.isfinite(v) for v in f.values())
    # Three accesses (x, y, y) per element over the launched threads (NB per block, 2 elements each).
    n, nb = trace.trace_sizes(k, "float32", dict(k.defaults))["n"], k.defaults["NB"]
    assert f["trace_gmem_accesses_per_thread"] == pytest.approx(3 * n / (math.ceil(n / (2 * nb)) * nb))
    # Two elements per thread, float32 (the primary dtype): each request asks for every other 4-byte
    # element of a 256-byte span, so the sectors carry twice the manifest's bytes (requests are
    # measured one by one; a cache that merges the two requests is not modelled). The bench
    # transfer is the traced one scaled by the work ratio.
    # The host compiler may merge a thread's two adjacent elements into one access, as a GPU
    # compiler may, so the traced amplification lies between 1 and 2 (a little above: the partial last warp).
    bench_bytes = 3 * k.sizes_bench[0]["n"] * 4
    amplification = f["trace_gmem_amplification"]
    assert 1.0 <= amplification <= 2.05
    assert f["trace_log_bench_transfer_bytes"] == pytest.approx(math.log10(1 + amplification * bench_bytes))
    assert len(COUNT_NAMES) == len(set(COUNT_NAMES))
