"""vectorize, warp-reduce and cache-hints on real kernel units of libraries/blas: what each rewrite
emits for each dialect and width, where it refuses; then the rewritten units built with the real
target compilers (clang for gfx942, nvcc for sm_90) and validated on the CPU emulator at the
target's wavefront width (64 for mi300x, 32 for h100), in the element types that take the vector
and hinted paths."""

from __future__ import annotations

import dataclasses

import pytest
from test_operators import H100, MI300X, _toolchains_missing, _unit, blas_unit, kernel_text

from portkern.library import LaunchSpec, load_library
from portkern.model import CompileOptions
from portkern.pipeline.kernels import include_dirs
from portkern.pipeline.stages import compile_stage
from portkern.search.operators import KernelUnit, apply_sequence, get_operator, operators_for, single_steps


def test_the_new_operators_are_registered_and_read_the_width_from_the_target():
    names = {op.name for op in operators_for(MI300X)}
    assert {"vectorize", "warp-reduce", "cache-hints"} <= names
    assert get_operator("warp-reduce").arguments(MI300X) == [64]
    assert get_operator("warp-reduce").arguments(H100) == [32]
    unit = blas_unit("dot")
    assert get_operator("warp-reduce").apply(unit, 32, MI300X) is None     # not the target's width
    assert ("warp-reduce", 64) in single_steps(unit, MI300X)
    assert not any(get_operator(n).by_construction for n in ("vectorize", "warp-reduce", "cache-hints"))


# --------------------------------------------------------------------------- vectorize


def test_vectorize_gives_axpy_a_checked_vector_path_and_a_scalar_path():
    unit = blas_unit("axpy")
    rw = get_operator("vectorize").apply(unit, 4, MI300X)
    assert rw is not None and rw.label == "vectorize(4)" and rw.edits == ["axpy_kernel"]
    body = kernel_text(rw.source, "axpy_kernel")
    assert "const int64_t tid_first = int64_t(blockIdx.x * NB + threadIdx.x) * 4;" in body
    # the run-time checks: a whole group below the bound, unit strides, aligned pointers
    for check in ("tid_first + 4 <= n", "incx == 1", "incy == 1", "portkern_vec_aligned<4>(xb + tid_first)",
                  "portkern_vec_aligned<4>(yb + tid_first)"):
        assert check in body
    assert "portkern_vload<4>(xb + tid_first, xb_lanes);" in body and "portkern_vstore<4>(yb + tid_first, yb_lanes);" in body
    assert "yb_lanes[tid_lane] += alpha * xb_lanes[tid_lane];" in body
    assert "portkern_vstore<4>(xb" not in body                        # x is only read
    # the scalar path runs the original statement for the group's indices below the bound
    assert "for(int64_t tid_k = tid_first; tid_k < tid_first + 4 && tid_k < n; ++tid_k)" in body
    assert "yb[int64_t(tid) * incy] += alpha * xb[int64_t(tid) * incx];" in body
    assert rw.source.count("struct portkern_vec_io<float, 4>") == 1
    assert "#if" not in rw.source[: rw.source.index("axpy_kernel(")].split("portkern vectorize helpers")[1]


def test_vectorize_loads_no_array_that_is_only_stored():
    rw = get_operator("vectorize").apply(blas_unit("copy"), 2, H100)
    assert rw is not None
    assert "portkern_vload<2>(xb + tid_first, xb_lanes);" in rw.source
    assert "portkern_vload<2>(yb" not in rw.source and "portkern_vstore<2>(yb + tid_first, yb_lanes);" in rw.source


@pytest.mark.parametrize("body", [
    "x[i] = x[i] > 0 ? (x[i + 1] = 1.0f) : 0.0f;",     # a store nested in an expression, another index form
    "x[2 * i + 1] = 0.0f;",                            # not a unit-stride form
    "float* p = &x[i]; *p = 1.0f;",                    # an address taken
])
def test_vectorize_refuses_what_it_cannot_prove_elementwise(body):
    op = get_operator("vectorize")
    assert op.apply(_unit("x[i] *= 2.0f;"), 4, MI300X) is not None
    assert op.apply(_unit(body), 4, MI300X) is None


def test_vectorize_declares_the_index_in_each_lane_where_it_is_used_as_a_value():
    rw = get_operator("vectorize").apply(_unit("x[i] = float(i);"), 4, MI300X)
    assert "const int i = int(i_first + i_lane);\n                x_lanes[i_lane] = float(i);" in rw.source
    loop = get_operator("vectorize").apply(blas_unit("iamax"), 4, MI300X).source
    assert "const I i = I(i_group * 4 + i_lane);" in loop and "blas_abs(T(xb_lanes[i_lane]))" in loop
    assert "if(best.index < 0 || v > best.value)" in loop             # control flow kept, lane by lane


@pytest.mark.parametrize("kernel", ["axpy_unit_stride", "gemv_n"])
def test_vectorize_does_not_apply_to_other_shapes(kernel):
    # two elements per thread already; a 2-D block
    assert get_operator("vectorize").apply(blas_unit(kernel), 2, MI300X) is None


def test_vectorize_walks_a_reductions_grid_stride_loop_in_groups():
    rw = get_operator("vectorize").apply(blas_unit("dot"), 4, H100)
    body = kernel_text(rw.source, "dot_kernel_part1")
    # the strides and the alignment checked once, before a loop over whole groups only
    assert "if(incx == 1 &&\n       incy == 1 &&\n       portkern_vec_aligned<4>(xb) &&\n       " \
           "portkern_vec_aligned<4>(yb))" in body
    assert ("for(int64_t i_group = int64_t(blockIdx.x * NB + threadIdx.x); i_group < i_groups; "
            "i_group += int64_t(gridDim.x * NB))") in body
    assert "const int64_t i_groups = int64_t(n) / 4;" in body
    assert "portkern_vload<4>(xb + i_group * 4, xb_lanes);" in body
    assert "sum += blas_convert<Tex>(xb_lanes[i_lane]) * blas_convert<Tex>(yb_lanes[i_lane]);" in body
    assert "portkern_vstore" not in body                      # a reduction stores nothing in the loop
    # the last n % 4 elements one by one, and the original loop where strides or alignment do not allow
    assert "for(int64_t i_k = i_groups * 4 + int64_t(blockIdx.x * NB + threadIdx.x); i_k < n; " \
           "i_k += int64_t(gridDim.x * NB))" in body
    fast, slow = body.split("\n    else\n", 1)
    assert "for(I i = blockIdx.x * NB + threadIdx.x; i < n; i += gridDim.x * NB)" in slow
    # the shared finalize kernel's loop steps by NB, not by the grid: left alone
    assert "for(I i = threadIdx.x; i < n_blocks; i += NB)" in rw.source


# --------------------------------------------------------------------------- warp-reduce


@pytest.mark.parametrize("target,shuffle", [(MI300X, "__shfl_down(val, offset, W)"),
                                            (H100, "__shfl_down_sync(0xffffffffu, val, offset, W)")],
                         ids=["mi300x", "h100"])
def test_warp_reduce_emits_the_targets_width_and_the_dialects_shuffle(target, shuffle):
    unit = blas_unit("nrm2", target.dialect)
    rw = get_operator("warp-reduce").apply(unit, target.wavefront, target)
    assert rw is not None and rw.edits == ["nrm2_kernel_part1"]
    assert f"sum = portkern_block_reduce_sum_w<NB, {target.wavefront}>(sum);" in kernel_text(rw.source, "nrm2_kernel_part1")
    assert shuffle in rw.source
    # the shared finalize kernel is not this kernel's: it keeps the library's helper
    assert "sum = blas_block_reduce_sum<NB>(sum);" in kernel_text(rw.source, "blas_reduction_kernel_part2")


def test_warp_reduce_needs_the_launch_block_size_and_a_one_dimensional_block():
    source = """template <int NB>
__global__ void k(int n, const float* x, float* out)
{
    float s = x[threadIdx.x];
    s = my_block_reduce_sum<NB>(s);
    if(threadIdx.x == 0)
        out[0] = s;
}
"""
    def unit(block):
        return KernelUnit(source=source, launches=[LaunchSpec("k", ["NB"], ["1", "1", "1"], block, "0", ["n", "x", "out"])])

    op = get_operator("warp-reduce")
    assert op.apply(unit(["NB", "1", "1"]), 64, MI300X) is not None
    assert op.apply(unit(["128", "1", "1"]), 64, MI300X) is None       # the call's NB is not the launch's
    assert op.apply(unit(["NB", "2", "1"]), 64, MI300X) is None        # threadIdx.x is not the thread's rank


# --------------------------------------------------------------------------- cache-hints


@pytest.mark.parametrize("target,load,store", [
    (MI300X, "__builtin_nontemporal_load(p)", "__builtin_nontemporal_store(v, p)"),
    (H100, "__ldg(p)", "__stcs(p, v)")], ids=["mi300x", "h100"])
def test_cache_hints_spell_the_hints_for_the_dialect(target, load, store):
    rw = get_operator("cache-hints").apply(blas_unit("copy", target.dialect), 3, target)
    assert rw is not None and load in rw.source and store in rw.source
    assert ("portkern_store_stream(&yb[int64_t(tid) * incy], portkern_load_ro(&xb[int64_t(tid) * incx]));"
            in kernel_text(rw.source, "copy_kernel"))
    loads_only = get_operator("cache-hints").apply(blas_unit("copy", target.dialect), 1, target)
    assert "portkern_store_stream(&yb" not in loads_only.source and "portkern_load_ro(&xb" in loads_only.source


def test_cache_hints_leave_shared_memory_and_written_inputs_alone():
    rw = get_operator("cache-hints").apply(blas_unit("gemv_n"), 3, MI300X)
    body = kernel_text(rw.source, "gemvn_kernel")
    assert "portkern_load_ro(&Ab[row + int64_t(col) * lda])" in body and "portkern_load_ro(&xb[" in body
    assert "partial[ty][tx] = sum;" in body and "sum += partial[j][tx];" in body      # shared memory
    # trsv's blocks wait on each other through atomics and volatile reads: no hint may change what they see
    assert get_operator("cache-hints").apply(blas_unit("trsv_lower"), 3, MI300X) is None
    axpy = get_operator("cache-hints").apply(blas_unit("axpy"), 3, MI300X)
    assert "yb[int64_t(tid) * incy] += alpha * portkern_load_ro(&xb[int64_t(tid) * incx]);" in axpy.source


# --------------------------------------------------------------------------- real compilers and the emulator


def _compile_and_validate(kernel: str, target, source: str, dtype: str, launches=None):
    """Build and validate the unit, launched as the candidate is (``launches``: a vectorized elementwise
    kernel gets 1/V of the blocks) or as the manifest says."""
    from portkern.harness.validate import validate

    lib = load_library("blas")
    spec = lib.kernel(kernel)
    if launches:
        spec = dataclasses.replace(spec, launches=list(launches))
    flags = lib.compile_flags if target.dialect == lib.dialect else []
    compiled = compile_stage(source, spec, lib, target, dict(spec.defaults), flags)
    result = validate(lib, spec, target, runner="emu", source=source, params=dict(spec.defaults), dtypes=[dtype],
                      extra=CompileOptions(include_dirs=include_dirs(lib, spec)))
    return compiled, result


CASES = [
    ("axpy", "float32", [("vectorize", 4)]),
    ("rot", "float64", [("vectorize", 2), ("cache-hints", 2)]),
    ("swap", "float32", [("vectorize", 2)]),
    ("copy", "float64", [("vectorize", 4), ("cache-hints", 3)]),
    ("axpy_batched", "float16", [("vectorize", 4), ("cache-hints", 1)]),
    ("dot", "float32", [("warp-reduce", 0), ("cache-hints", 1)]),
    ("dot_strided_batched", "float32", [("vectorize", 4), ("warp-reduce", 0)]),
    ("asum", "float64", [("vectorize", 2)]),
    ("iamax", "float32", [("vectorize", 4), ("unroll", 4)]),
    ("nrm2", "float64", [("warp-reduce", 0), ("unroll", 4)]),
    ("gemv_t", "float32", [("warp-reduce", 0)]),
]


@pytest.mark.slow
@pytest.mark.parametrize("target", [MI300X, H100], ids=lambda t: t.name)
@pytest.mark.parametrize("kernel,dtype,steps", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_rewritten_blas_kernels_compile_and_validate_at_the_target_width(kernel, dtype, steps, target):
    missing = _toolchains_missing(target)
    if missing:
        pytest.skip(missing)
    steps = [(name, target.wavefront if name == "warp-reduce" else arg) for name, arg in steps]
    applied = apply_sequence(blas_unit(kernel, target.dialect), steps, target)
    assert applied is not None, steps
    compiled, result = _compile_and_validate(kernel, target, applied.unit.source, dtype, applied.unit.launches)
    assert compiled["arch"] == target.arch and compiled["entry_map"]
    assert result.wavefront == target.wavefront
    assert result.passed, f"{applied.labels}: {result.failure}: {result.detail}"


PLANTED = [("scal", "xb_lanes[tid_lane] *= alpha;", "xb_lanes[tid_lane] *= alpha + alpha;"),
           ("dot", "sum += blas_convert<Tex>(xb_lanes[i_lane])", "sum += 2 * blas_convert<Tex>(xb_lanes[i_lane])")]


@pytest.mark.slow
@pytest.mark.parametrize("target", [MI300X, H100], ids=lambda t: t.name)
@pytest.mark.parametrize("kernel,good,bad", PLANTED, ids=[p[0] for p in PLANTED])
def test_the_vector_path_is_what_validation_runs(kernel, good, bad, target):
    """A fault planted in the vector path alone fails validation in float32: the checks let the
    harness's buffers through, so the vector loads and stores are exercised, not only the scalar path."""
    missing = _toolchains_missing(target)
    if missing:
        pytest.skip(missing)
    rw = get_operator("vectorize").apply(blas_unit(kernel, target.dialect), 4, target)
    broken = rw.source.replace(good, bad)
    assert broken != rw.source
    _, result = _compile_and_validate(kernel, target, broken, "float32", rw.launches)
    assert not result.passed and result.wavefront == target.wavefront


@pytest.mark.slow
def test_a_reduction_of_the_wrong_width_fails_validation_at_wave64():
    """The emulator runs 64-lane wavefronts for mi300x: a wavefront sum that shuffles as if there were
    32 lanes (offsets from 16 down) leaves lanes 32-63 out of the total."""
    missing = _toolchains_missing(MI300X)
    if missing:
        pytest.skip(missing)
    rw = get_operator("warp-reduce").apply(blas_unit("asum"), 64, MI300X)
    broken = rw.source.replace("val = portkern_wave_reduce_sum_w<W, W>(val);", "val = portkern_wave_reduce_sum_w<W, 32>(val);")
    assert broken != rw.source
    _, result = _compile_and_validate("asum", MI300X, broken, "float32")
    assert not result.passed and result.wavefront == 64
