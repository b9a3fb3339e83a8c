"""Operators on the forms real libraries write: ``#if`` chains that only balance per configuration, a
block size passed as a template parameter, guards with more than the index bound, wrapper ifs. The
kernels here are written for these tests in rocBLAS's idioms; the last tests port rocBLAS's own kernels
(../shared/corpus/rocblas) and validate them on the emulator at wave 64."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from portkern.library import LaunchSpec, load_library
from portkern.search.operators import KernelUnit, apply_sequence, get_operator
from portkern.search.operators.base import Edit, splice
from portkern.search.operators.elementwise import template_parameters
from portkern.search.operators.view import HIDDEN, device_defines, view_of
from portkern.targets import get_target

MI300X, H100 = get_target("mi300x"), get_target("h100")

HEAD = """#include <hip/hip_runtime.h>
#if defined(__HIP_DEVICE_COMPILE__) && defined(__GFX12__)
#define GRID_16BIT 1
#else
#define GRID_16BIT 0
#endif

template <typename T>
__device__ T* at_batch(T* p, unsigned batch, long offset, long stride)
{
    return p + batch * stride + offset;
}
"""

# A batch loop that only GFX12 device code compiles: its braces balance per configuration only.
KERNEL = """
template <typename I, int DIM_X, typename T>
__global__ __launch_bounds__(DIM_X) void scale_kernel(int n, T alpha, T* xa, long shiftx, I incx, long stridex,
                                                      int batch_count)
{
    long     tid   = blockIdx.x * DIM_X + threadIdx.x;
    unsigned batch = blockIdx.z;

#if GRID_16BIT
    for(; batch < batch_count; batch += 65535)
    {
#endif
        T* x = at_batch(xa, batch, shiftx, stridex);
        GUARD
#if GRID_16BIT
    }
#endif
}
"""
PLAIN = "if(tid < n)\n        {\n            x[tid * incx] = alpha * x[tid * incx];\n        }"


def _unit(guard: str = PLAIN, *, kernel: str = KERNEL, block: str = "NB", target=MI300X, defines=None) -> KernelUnit:
    launch = LaunchSpec("scale_kernel", ["int", "NB", "float"], ["ceil_div(n, NB)", "1", "batch_count"],
                        [block, "1", "1"], "0", [])
    return KernelUnit(source=HEAD + kernel.replace("GUARD", guard), launches=[launch],
                      rewritable=["scale_kernel"], sizes={"n": "n"},
                      defines=device_defines(target) if defines is None else defines)


def test_device_defines_follow_the_target_architecture():
    amd = device_defines(MI300X)
    assert amd["__gfx942__"] == "1" and amd["__GFX9__"] == "1" and amd["__HIP_DEVICE_COMPILE__"] == "1"
    assert "__GFX12__" not in amd
    assert device_defines(dataclasses.replace(MI300X, arch="gfx1201"))["__GFX12__"] == "1"
    assert device_defines(H100)["__CUDA_ARCH__"] == "900"


def test_the_view_hides_the_branches_the_target_does_not_compile_at_the_same_offsets():
    source = _unit().source.encode()
    view = view_of(source, tuple(sorted(device_defines(MI300X).items())))
    assert view is not None and len(view.data) == len(source)
    assert view.data.count(b"\n") == source.count(b"\n")
    hidden = [source[a:b].decode() for a, b in view.hidden]
    assert any("for(; batch < batch_count" in h for h in hidden)
    assert all(view.data[a:b].strip(HIDDEN + b" \t\r\n") == b"" for a, b in view.hidden)
    assert b"T* x = at_batch(xa, batch, shiftx, stridex);" in view.data
    # GFX12 compiles the loop: its view hides the directives only, and the loop is there to parse
    gfx12 = view_of(source, tuple(sorted(device_defines(dataclasses.replace(MI300X, arch="gfx1201")).items())))
    assert gfx12 is not None and b"for(; batch < batch_count" in gfx12.data
    # a unit without such chains needs no view
    assert view_of(HEAD.encode(), tuple(sorted(device_defines(MI300X).items()))) is None


def test_edits_that_touch_or_copy_a_hidden_branch_are_refused():
    unit = _unit()
    view = view_of(unit.source.encode(), tuple(sorted(unit.defines.items())))
    start, end = next((a, b) for a, b in view.hidden if b"for(;" in unit.source.encode()[a:b])
    assert splice(unit, [Edit(start + 2, start + 3, "x")]) is None
    assert splice(unit, [Edit(0, 0, "copied " + HIDDEN.decode())]) is None
    assert splice(unit, [Edit(0, 0, "// fine\n")]).startswith("// fine\n")


def test_a_template_block_size_is_bound_through_the_launch():
    assert template_parameters("template <typename I, int DIM_X, typename T = float, int... Rest>") == \
        ["I", "DIM_X", "T", "Rest"]
    rw = get_operator("grid-stride").apply(_unit(), 4, MI300X)
    assert rw is not None and rw.grid_shrink == {"scale_kernel": 4}
    assert "for(long tid = blockIdx.x * DIM_X + threadIdx.x; tid < n; tid += gridDim.x * DIM_X)" in rw.source
    # the batch loop's directives and its hidden lines are kept byte for byte
    assert rw.source.count("#if GRID_16BIT") == 2 and "for(; batch < batch_count; batch += 65535)" in rw.source
    # a launch with another block size than the template argument it passes is not this shape
    assert get_operator("grid-stride").apply(_unit(block="256"), 4, MI300X) is None


@pytest.mark.parametrize("index", [
    "(size_t)blockIdx.x * blockDim.x + threadIdx.x",
    "static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x",
    "hipBlockIdx_x * hipBlockDim_x + hipThreadIdx_x",
    "threadIdx.x + int64_t(blockIdx.x) * NB",
])
def test_index_spellings_of_real_code_are_read(index):
    source = f"""#include <hip/hip_runtime.h>
template <int NB>
__global__ void k(int n, float* x)
{{
    const size_t i = {index};
    if(i < n)
    {{
        x[i] = 2.0f * x[i];
    }}
}}
"""
    launch = LaunchSpec("k", ["NB"], ["ceil_div(n, NB)", "1", "1"], ["NB", "1", "1"], "0", [])
    unit = KernelUnit(source=source, launches=[launch], rewritable=["k"], defines=device_defines(MI300X))
    rw = get_operator("grid-stride").apply(unit, 4, MI300X)
    assert rw is not None and f"for(size_t i = {index}; i < n; i += gridDim.x * " in rw.source
    assert get_operator("vectorize").apply(unit, 4, MI300X) is not None


def test_without_the_targets_defines_the_unbalanced_kernel_is_not_matched():
    assert get_operator("grid-stride").apply(_unit(defines={}), 4, MI300X) is None


def test_a_guard_with_conditions_that_do_not_use_the_index_keeps_them():
    guard = "if(alpha != 1 && tid < n)\n        {\n            x[tid * incx] = alpha * x[tid * incx];\n        }"
    rw = get_operator("grid-stride").apply(_unit(guard), 2, MI300X)
    assert rw is not None and "tid < n && (alpha != 1); tid += gridDim.x * DIM_X)" in rw.source
    vec = get_operator("vectorize").apply(_unit(guard), 4, MI300X)
    assert vec is not None and "if(tid_first < n && (alpha != 1))" in vec.source
    assert "incx == 1" in vec.source and "portkern_vec_aligned<4>(x + tid_first)" in vec.source


@pytest.mark.parametrize("guard", [
    "if(tid < n && x[tid] > 0)\n        {\n            x[tid] = 0;\n        }",          # the other term reads the index
    "if(tid < n && check(alpha))\n        {\n            x[tid] = 0;\n        }",       # a call: maybe not pure
    "if(tid < n)\n        {\n            x[tid] = 0;\n        }\n        else\n        {\n        }",
])
def test_guards_the_shape_cannot_keep_are_refused(guard):
    assert get_operator("grid-stride").apply(_unit(guard), 2, MI300X) is None


def test_a_wrapper_if_around_the_guard_stays_around_it():
    guard = ("if(alpha)\n        {\n            T a2 = alpha * alpha;\n            if(tid < n)\n            {\n"
             "                x[tid * incx] = a2 * x[tid * incx];\n            }\n        }")
    rw = get_operator("grid-stride").apply(_unit(guard), 4, MI300X)
    assert rw is not None
    body = rw.source[rw.source.index("if(alpha)"):]
    assert body.index("T a2 = alpha * alpha;") < body.index("for(long tid = blockIdx.x * DIM_X + threadIdx.x; tid < n;")
    vec = get_operator("vectorize").apply(_unit(guard), 2, MI300X)
    assert vec is not None and vec.source.index("if(alpha)") < vec.source.index("if(tid_first < n)")
    # a wrapper that uses the index, or one with an else, is another shape
    for other in (guard.replace("if(alpha)", "if(tid % 2 == 0)"), guard + "\n        else\n        {\n        }"):
        assert get_operator("grid-stride").apply(_unit(other), 4, MI300X) is None


def test_hidden_code_that_reads_the_index_or_the_block_keeps_the_kernel_as_it_is():
    kernel = KERNEL.replace("for(; batch < batch_count; batch += 65535)",
                            "for(; batch < batch_count; batch += 65535 + tid)")
    assert get_operator("grid-stride").apply(_unit(kernel=kernel), 4, MI300X) is None
    kernel = KERNEL.replace("batch += 65535)", "batch += gridDim.z)\n    { if(blockIdx.x > 7) return;")
    kernel = kernel.replace("    {\n#endif\n        T* x", "#endif\n        T* x")
    assert get_operator("grid-stride").apply(_unit(kernel=kernel), 4, MI300X) is None


HELPER_GUARD = ("if(tid < n)\n        {\n            T* tx = at_batch(xa, batch, shiftx + tid * incx, stridex);\n"
                "            *tx = alpha * (*tx);\n        }")


def test_element_pointers_of_an_offset_helper_are_read_as_subscripts_and_vectorized():
    rw = get_operator("vectorize").apply(_unit(HELPER_GUARD), 4, MI300X)
    assert rw is not None and "at_batch" in rw.description
    assert "T* tx = at_batch(xa, batch, shiftx, stridex);" in rw.source
    assert "tx_lanes[tid_lane] = alpha * tx_lanes[tid_lane];" in rw.source          # the vector path
    assert "tx[tid * incx] = alpha * tx[tid * incx];" in rw.source                   # the scalar path
    assert "portkern_vec_aligned<4>(tx + tid_first)" in rw.source and "incx == 1" in rw.source


@pytest.mark.parametrize("change", [
    # the pointer is used as a value, not only dereferenced
    lambda s: s.replace("*tx = alpha * (*tx);", "*tx = alpha * (*tx);\n            keep(tx);"),
    # the helper does not add its offset last: it is not known to commute with it
    lambda s: s.replace("return p + batch * stride + offset;", "return p + offset + batch * stride;"),
    # an overload with the same parameter count that does something else
    lambda s: s + "\ntemplate <typename T>\n__device__ T* at_batch(T* const* p, unsigned b, long o, long s)\n"
                  "{\n    return p[b] + o * 2;\n}\n",
])
def test_offset_helpers_that_are_not_proven_leave_the_kernel_as_it_is(change):
    unit = _unit(HELPER_GUARD)
    unit = dataclasses.replace(unit, source=change(unit.source))
    assert get_operator("vectorize").apply(unit, 4, MI300X) is None


PART1 = """
template <typename T>
__device__ T block_sum(T v);
template <typename T>
__device__ T block_max(T v);

template <int NB, typename T>
__global__ void part1(int n, int n_blocks, const T* x, long incx, T* workspace)
{
    long tid = blockIdx.x * NB + threadIdx.x;
    T    sum;
    if(tid < n)
        sum = x[tid * incx] * x[tid * incx];
    else
        sum = T(0); // pad
    sum = block_sum(sum);
    if(threadIdx.x == 0)
        workspace[blockIdx.x] = sum;
}
"""


def _part1(source: str = PART1) -> KernelUnit:
    launch = LaunchSpec("part1", ["NB", "float"], ["n_blocks", "1", "1"], ["NB", "1", "1"], "0", [])
    return KernelUnit(source=source, launches=[launch], rewritable=["part1"], sizes={"n": "n", "n_blocks": "n_blocks"},
                      defines=device_defines(MI300X))


def test_accumulate_turns_a_one_element_read_before_a_block_sum_into_a_grid_stride_sum():
    rw = get_operator("accumulate").apply(_part1(), 1, MI300X)
    assert rw is not None and not rw.grid_shrink
    body = rw.source[rw.source.index("void part1"):]
    assert "    long tid = blockIdx.x * NB + threadIdx.x;" not in body        # the index lives in the loop now
    assert ("sum = T(0);\n    for(long tid = blockIdx.x * NB + threadIdx.x; tid < n; tid += gridDim.x * NB)\n"
            "        sum += x[tid * incx] * x[tid * incx];") in body
    assert "// pad" not in body
    # it is the loop fewer-blocks divides the reduction's block count for
    seq = apply_sequence(_part1(), [("accumulate", 1), ("fewer-blocks", 8)], MI300X)
    assert seq is not None and seq.size_scale == {"n_blocks": 8}


def test_accumulate_folds_with_the_combine_functor_the_block_reduction_is_given():
    source = PART1.replace("template <int NB, typename T>\n__global__", "template <int NB, typename REDUCE, typename T>\n"
                                                                       "__global__")
    source = source.replace("sum = block_sum(sum);", "sum = block_reduce_method<NB, REDUCE>(sum);")
    unit = _part1(source)
    unit.launches[0].template_args[:] = ["NB", "amax_op", "float"]
    rw = get_operator("accumulate").apply(unit, 1, MI300X)
    assert rw is not None and "REDUCE{}(sum, x[tid * incx] * x[tid * incx]);" in rw.source
    assert "folded by REDUCE" in rw.source
    # a functor that is not the kernel's own parameter is not known to be the combine
    other = source.replace("block_reduce_method<NB, REDUCE>", "block_reduce_method<NB, amax_op>")
    assert get_operator("accumulate").apply(_part1(other), 1, MI300X) is None


@pytest.mark.parametrize("change", [
    lambda s: s.replace("sum = block_sum(sum);", "sum = block_max(sum);"),             # not a sum
    lambda s: s.replace("sum = T(0); // pad", "other = T(0);"),                         # another variable
    lambda s: s.replace("sum = T(0); // pad", "sum = x[tid];"),                         # the padding reads tid
    lambda s: s.replace("workspace[blockIdx.x] = sum;", "workspace[tid] = sum;"),       # the index used again
    lambda s: s.replace("if(tid < n)", "if(tid <= n)"),                                 # not the bound form
])
def test_accumulate_refuses_what_is_not_that_shape(change):
    """(A max, a min or an arg-reduction is not a sum; nor is a helper that passes no combine functor.)"""
    assert get_operator("accumulate").apply(_part1(change(PART1)), 1, MI300X) is None


# --------------------------------------------------------------------------- rocBLAS's own kernels

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "rocblas"
MANIFEST = Path(__file__).resolve().parents[1] / "libraries" / "rocblas" / "library.yaml"
real = pytest.mark.skipif(not (CORPUS / "library").is_dir(), reason=f"the rocBLAS corpus is not at {CORPUS}")


def _rocblas_unit(kernel: str, monkeypatch):
    from portkern.pipeline.stages import ingest_stage, library_digest

    monkeypatch.setenv("ROCBLAS_SRC", str(CORPUS))
    lib = load_library(str(MANIFEST))
    spec = lib.kernel(kernel)
    source = ingest_stage(lib, spec, library_digest(lib))["source"]
    return lib, spec, KernelUnit(source=source, launches=list(spec.launches), dialect="hip",
                                 rewritable=[spec.symbol], defines=device_defines(MI300X),
                                 sizes={a.name: a.value for a in spec.args if a.role in ("size", "batch") and a.value})


@real
@pytest.mark.slow
@pytest.mark.parametrize("kernel,steps", [
    ("copy", [("vectorize", 4)]),
    ("scal", [("vectorize", 4)]),
    ("scal_strided_batched", [("grid-stride", 4)]),
    ("axpy", [("grid-stride", 4)]),
    ("axpy", [("vectorize", 4)]),
    ("axpy_strided_batched", [("vectorize", 2)]),
    ("asum", [("accumulate", 1), ("vectorize", 4), ("unroll", 4), ("fewer-blocks", 8)]),
    ("nrm2", [("accumulate", 1), ("fewer-blocks", 16)]),
    ("asum_strided_batched", [("accumulate", 1), ("vectorize", 2), ("fewer-blocks", 8)]),
    ("iamax", [("accumulate", 1), ("vectorize", 4), ("fewer-blocks", 8)]),
    ("iamin", [("accumulate", 1), ("fewer-blocks", 16)]),
])
def test_rocblas_kernels_take_the_shape_operators_and_validate_at_wave_64(kernel, steps, monkeypatch):
    from portkern.harness.validate import validate
    from portkern.model import CompileOptions
    from portkern.pipeline.kernels import include_dirs
    from portkern.pipeline.stages import compile_stage

    lib, spec, unit = _rocblas_unit(kernel, monkeypatch)
    applied = apply_sequence(unit, steps, MI300X)
    assert applied is not None, f"{steps} do not apply to rocBLAS {kernel}"
    assert applied.unit.source.count("#if DEVICE_GRID_YZ_16BIT") == unit.source.count("#if DEVICE_GRID_YZ_16BIT")
    spec = dataclasses.replace(spec, launches=list(applied.unit.launches))
    compiled = compile_stage(applied.unit.source, spec, lib, MI300X, dict(spec.defaults), lib.compile_flags)
    assert compiled["arch"] == "gfx942"
    result = validate(lib, spec, MI300X, runner="emu", source=applied.unit.source, params=dict(spec.defaults),
                      dtypes=[spec.dtypes[0]], extra=CompileOptions(include_dirs=include_dirs(lib, spec)))
    assert result.wavefront == 64
    assert result.passed, f"{steps}: {result.failure}: {result.detail}"
