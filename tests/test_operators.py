"""Transformation operators on real kernel units of libraries/blas (ingested, and translated for
CUDA targets, by the pipeline's own stages): what each rewrite does and where it refuses; then the
rewritten units built with the real target compilers (clang for gfx942, nvcc for sm_90) and
validated on the CPU emulator at the target's wavefront width; then `port --strategy evolve`."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
import types
from functools import cache

import pytest
from llm_server import free_port

from portkern import backends
from portkern.config import load_config
from portkern.errors import ConfigError
from portkern.library import LaunchSpec, load_library
from portkern.model import CompileOptions
from portkern.pipeline.kernels import include_dirs
from portkern.pipeline.stages import compile_stage, ingest_stage, library_digest, translate_stage
from portkern.search.base import Candidate
from portkern.search.genome import Genome
from portkern.search.operators import (
    OPERATORS,
    KernelUnit,
    apply_sequence,
    canonical,
    get_operator,
    operators_for,
    sequence_label,
    single_steps,
)
from portkern.targets import get_target

MI300X, H100 = get_target("mi300x"), get_target("h100")


@cache
def blas_unit(kernel: str, dialect: str = "hip") -> KernelUnit:
    lib = load_library("blas")
    spec = lib.kernel(kernel)
    source = ingest_stage(lib, spec, library_digest(lib))["source"]
    if dialect != lib.dialect:
        result = translate_stage(source, lib.dialect, dialect, spec.file)
        source = result["source"] if isinstance(result, dict) else result.payload["source"]
    return KernelUnit(source=source, launches=list(spec.launches), dialect=dialect, rewritable=[spec.symbol],
                      sizes={a.name: a.value for a in spec.args if a.role in ("size", "batch") and a.value})


def kernel_text(source: str, symbol: str) -> str:
    """The text from the kernel's name to the end of the unit (the kernel is the unit's last function)."""
    return source[source.index(symbol + "("):]


# --------------------------------------------------------------------------- the registry


def test_every_operator_is_registered_with_a_one_line_description_and_its_vendors():
    assert {"grid-stride", "unroll", "launch-bounds"} <= set(OPERATORS)
    for name, cls in OPERATORS.items():
        op = cls()
        assert op.name == name and op.description and "\n" not in op.description
        assert isinstance(op.by_construction, bool) and all(v in ("amd", "nvidia") for v in op.vendors)
        assert op.arguments(MI300X) and op.arguments(H100)
    assert {op.name for op in operators_for(MI300X)} == {op.name for op in operators_for(H100)} == set(OPERATORS)
    with pytest.raises(ConfigError, match="unknown transformation operator 'tile'"):
        get_operator("tile")


def test_an_operator_without_a_description_is_refused():
    from portkern.search.operators.base import Operator

    with pytest.raises(TypeError, match="one-line description"):
        type("Nameless", (Operator,), {"name": "nameless", "arguments": lambda s, t: [1],
                                       "apply": lambda s, u, a, t: None})


# --------------------------------------------------------------------------- grid-stride


def test_grid_stride_turns_axpy_into_a_loop_launched_with_fewer_blocks():
    unit = blas_unit("axpy")
    rw = get_operator("grid-stride").apply(unit, 4, MI300X)
    assert rw is not None and rw.label == "grid-stride(4)" and rw.edits == ["axpy_kernel"]
    body = kernel_text(rw.source, "axpy_kernel")
    assert "for(I tid = blockIdx.x * NB + threadIdx.x; tid < n; tid += gridDim.x * NB)" in body
    assert "if(tid < n)" not in body and "const I    tid" not in body and "return;" not in body
    # the rest of the unit is untouched; the launch has a quarter of the blocks in x, the rest as it was
    assert rw.source[: rw.source.index("axpy_kernel(")] == unit.source[: unit.source.index("axpy_kernel(")]
    assert rw.grid_shrink == {"axpy_kernel": 4}
    assert [launch.grid for launch in rw.launches] == [[f"ceil_div({launch.grid[0]}, 4)", *launch.grid[1:]]
                                                       for launch in unit.launches]
    assert [launch.block for launch in rw.launches] == [launch.block for launch in unit.launches]


def test_a_kernel_that_reads_its_block_position_keeps_its_grid():
    """A batch taken from blockIdx.x (or HIP's hipBlockIdx_x) would change with fewer blocks: grid-stride
    refuses; vectorize applies with the launch as it is."""
    for position in ("blockIdx.x", "hipBlockIdx_x"):
        unit = _unit("x[i] *= 2.0f;")
        unit.source = unit.source.replace("__global__ void k(int n, float* x)\n{",
                                          f"__global__ void k(int n, float* x)\n{{\n    const int b = {position} / 7;")
        unit.source = unit.source.replace("x[i] *= 2.0f;", "x[i] *= 2.0f + 0 * b;")
        assert get_operator("grid-stride").apply(unit, 2, MI300X) is None
        rw = get_operator("vectorize").apply(unit, 2, MI300X)
        assert rw is not None and rw.grid_shrink == {} and rw.launches == unit.launches
    rw = get_operator("vectorize").apply(_unit("x[i] *= 2.0f;"), 2, MI300X)
    assert rw.grid_shrink == {"k": 2} and rw.launches[0].grid[0] == "ceil_div(ceil_div(n, NB), 2)"


def test_shrinks_compose_over_a_sequence_and_reach_the_candidate():
    from portkern.search.genome import Genome, candidate

    unit = blas_unit("scal")
    applied = apply_sequence(unit, [("grid-stride", 2), ("unroll", 2)], MI300X)
    assert applied is not None and applied.grid_shrink == {"scal_kernel": 2}
    ctx = types.SimpleNamespace(base=types.SimpleNamespace(kernel="scal"))
    cand = candidate(ctx, Genome(steps=(("grid-stride", 2), ("unroll", 2))), applied, "scal/x-1", "scal/original-0", "t")
    assert cand.grid_shrink == {"scal_kernel": 2} and cand.launches == applied.unit.launches
    spec = load_library("blas").kernel("scal")
    assert cand.kernel_spec(spec).launches[0].grid[0] == f"ceil_div({spec.launches[0].grid[0]}, 2)"
    assert Candidate.from_dict(cand.to_dict()).kernel_spec(spec) == cand.kernel_spec(spec)


@pytest.mark.parametrize("kernel", ["dot", "nrm2", "asum", "iamax"])
def test_fewer_blocks_divides_a_reductions_block_count_for_both_stages(kernel):
    unit = blas_unit(kernel)
    rw = get_operator("fewer-blocks").apply(unit, 8, H100)
    assert rw is not None and rw.label == "fewer-blocks(8)"
    # the count both stages and the workspace read is divided; the launches name it as before
    assert rw.size_scale == {"n_blocks": 8} and rw.grid_shrink == {} and rw.launches == unit.launches
    added = [ln for ln in rw.source.splitlines() if ln not in unit.source.splitlines()]
    assert len(added) == 1 and added[0].strip().startswith("// fewer-blocks: launched with 1/8 of the blocks")
    applied = apply_sequence(unit, [("vectorize", 4), ("fewer-blocks", 2), ("unroll", 2)], H100)
    assert applied is not None and applied.size_scale == {"n_blocks": 2}
    from portkern.search.genome import Genome, candidate

    ctx = types.SimpleNamespace(base=types.SimpleNamespace(kernel=kernel))
    cand = candidate(ctx, Genome(steps=(("vectorize", 4), ("fewer-blocks", 2))), applied, f"{kernel}/x-1", "", "t")
    spec = load_library("blas").kernel(kernel)
    scaled = Candidate.from_dict(json.loads(json.dumps(cand.to_dict()))).kernel_spec(spec)
    assert next(a for a in scaled.args if a.name == "n_blocks").value == "ceil_div(ceil_div(n, NB * WIN), 2)"
    assert scaled.launches == spec.launches and any("n_blocks divided by 2" in n for n in cand.notes)


def test_fewer_blocks_divides_the_grid_of_a_streaming_grid_stride_loop():
    unit = blas_unit("axpy")
    assert get_operator("fewer-blocks").apply(unit, 4, H100) is None          # one element per thread
    applied = apply_sequence(unit, [("grid-stride", 2), ("fewer-blocks", 4)], H100)
    assert applied is not None and applied.grid_shrink == {"axpy_kernel": 8} and applied.size_scale == {}
    assert [launch.grid[0] for launch in applied.unit.launches] == [
        f"ceil_div(ceil_div({launch.grid[0]}, 2), 4)" for launch in unit.launches]


def test_fewer_blocks_refuses_a_kernel_that_reads_its_block_position_beyond_the_loop():
    src = ("template <int NB>\n__global__ void k(int n, float* x, float* part)\n{\n"
           "    for(int i = blockIdx.x * NB + threadIdx.x; i < n; i += gridDim.x * NB)\n        x[i] *= 2.0f;\n"
           "    if(threadIdx.x == 0)\n        part[blockIdx.x] = 1.0f;\n}\n")
    unit = KernelUnit(source=src, launches=[LaunchSpec("k", ["NB"], ["ceil_div(n, NB)", "1", "1"], ["NB", "1", "1"], "0",
                                                       ["n", "x", "part"])], dialect="hip", sizes={"n": "n"})
    assert get_operator("fewer-blocks").apply(unit, 2, MI300X) is None
    # the same loop alone: its grid is divided
    alone = KernelUnit(source=src.replace("    if(threadIdx.x == 0)\n        part[blockIdx.x] = 1.0f;\n", ""),
                       launches=unit.launches, dialect="hip", sizes={"n": "n"})
    rw = get_operator("fewer-blocks").apply(alone, 2, MI300X)
    assert rw is not None and rw.grid_shrink == {"k": 2} and rw.launches[0].grid[0] == "ceil_div(ceil_div(n, NB), 2)"


def test_fewer_blocks_follows_vectorize_on_a_loop_whose_block_position_is_read_nowhere_else():
    """vectorize leaves three grid-stride loops (whole groups, the last elements, the original): none of
    them counts as reading the block's position outside a loop."""
    src = ("template <int NB>\n__global__ void k(int n, const float* x, float* total)\n{\n    float s = 0.0f;\n"
           "    for(int i = blockIdx.x * NB + threadIdx.x; i < n; i += gridDim.x * NB)\n        s += x[i];\n"
           "    atomicAdd(total, s);\n}\n")
    unit = KernelUnit(source=src, launches=[LaunchSpec("k", ["NB"], ["ceil_div(n, NB)", "1", "1"], ["NB", "1", "1"],
                                                       "0", ["n", "x", "total"])], dialect="hip", sizes={"n": "n"})
    applied = apply_sequence(unit, [("vectorize", 4), ("fewer-blocks", 2)], MI300X)
    assert applied is not None and applied.grid_shrink == {"k": 2}
    assert applied.unit.source.count("gridDim.x * NB") == 3


@pytest.mark.parametrize("kernel", ["axpy_unit_stride", "dot", "nrm2"])
def test_grid_stride_does_not_apply_where_the_shape_differs(kernel):
    # two elements per thread already, or a per-block partial sum that depends on blockIdx.x
    assert get_operator("grid-stride").apply(blas_unit(kernel), 4, MI300X) is None


GUARDED = """template <int NB>
__global__ void k(int n, float* x)
{
    int i = blockIdx.x * NB + threadIdx.x;
    if(i < n)
    {
        BODY
    }
}
"""


def _unit(body: str, block: str = "NB") -> KernelUnit:
    return KernelUnit(source=GUARDED.replace("BODY", body),
                      launches=[LaunchSpec("k", ["NB"], ["ceil_div(n, NB)", "1", "1"], [block, "1", "1"], "0",
                                           ["n", "x"])])


@pytest.mark.parametrize("body,block", [
    ("x[i] *= 2.0f;", "128"),                         # the index multiplier is not the launch's block size
    ("x[i] = blockIdx.x;", "NB"),                     # the body depends on the block
    ("__syncthreads(); x[i] = 1.0f;", "NB"),          # a barrier would run a different number of times
    ("if(x[i] < 0) return; x[i] = 1.0f;", "NB"),      # an early return would end the whole loop
])
def test_grid_stride_refuses_what_it_cannot_prove(body, block):
    op = get_operator("grid-stride")
    assert op.apply(_unit("x[i] *= 2.0f;"), 2, MI300X) is not None
    assert op.apply(_unit(body, block), 2, MI300X) is None


# --------------------------------------------------------------------------- unroll and launch bounds


def test_unroll_marks_every_counted_loop_once():
    unit = blas_unit("dot")
    op = get_operator("unroll")
    rw = op.apply(unit, 4, MI300X)
    assert rw is not None and rw.edits == ["dot_kernel_part1"]
    assert rw.source.count("#pragma unroll 4") == 1
    assert "#pragma unroll 4\n    for(I i = blockIdx.x * NB + threadIdx.x; i < n; i += gridDim.x * NB)" in rw.source
    # the helper's shuffle loop is not a kernel, and the shared finalize kernel is not this kernel's: left alone
    assert "#pragma unroll 4\n    for(int offset" not in rw.source
    assert "#pragma unroll 4\n    for(I i = threadIdx.x; i < n_blocks; i += NB)" not in rw.source
    # with every launched kernel rewritable, the finalize kernel's loop is marked too
    every = KernelUnit(source=unit.source, launches=unit.launches)
    assert set(op.apply(every, 4, MI300X).edits) == {"dot_kernel_part1", "blas_reduction_kernel_part2"}
    again = KernelUnit(source=rw.source, launches=unit.launches, rewritable=unit.rewritable)
    assert op.apply(again, 2, MI300X) is None          # already unrolled
    assert op.apply(blas_unit("axpy"), 4, MI300X) is None   # no loop to unroll


def test_launch_bounds_expands_the_kernel_macro_in_the_kernel_head_only():
    unit = blas_unit("scal")
    rw = get_operator("launch-bounds").apply(unit, 2, MI300X)
    assert rw is not None
    assert "static __global__ __launch_bounds__(NB, 2) void scal_kernel(" in rw.source
    assert "#define BLAS_KERNEL(NB_) static __global__ __launch_bounds__(NB_) void" in rw.source


def test_launch_bounds_on_a_plain_kernel_needs_a_compile_time_block_size():
    op = get_operator("launch-bounds")
    rw = op.apply(_unit("x[i] *= 2.0f;"), 2, H100)
    assert rw is not None and "__global__ __launch_bounds__(NB, 2) void k(" in rw.source
    assert op.apply(_unit("x[i] *= 2.0f;", block="nb"), 2, H100) is None   # a run-time block size
    assert max(op.arguments(H100)) <= H100.max_blocks_per_cu


def test_sequences_apply_in_rank_order_and_stop_at_a_step_that_does_not_apply():
    unit = blas_unit("axpy")
    steps = canonical([("launch-bounds", 2), ("unroll", 2), ("grid-stride", 4)])
    assert sequence_label(list(steps)) == "grid-stride(4) + unroll(2) + launch-bounds(2)"
    applied = apply_sequence(unit, list(steps), MI300X)
    assert applied is not None and applied.labels == ["grid-stride(4)", "unroll(2)", "launch-bounds(2)"]
    assert applied.by_construction
    assert "#pragma unroll 2\n    for(I tid" in applied.unit.source
    assert apply_sequence(unit, [("unroll", 2)], MI300X) is None      # no loop before the grid-stride
    assert Genome(steps=(("unroll", 2), ("grid-stride", 4))).steps == (("grid-stride", 4), ("unroll", 2))
    assert ("grid-stride", 4) in single_steps(unit, MI300X) and ("unroll", 2) not in single_steps(unit, MI300X)


# --------------------------------------------------------------------------- real compilers and the emulator


FULL = [("grid-stride", 4), ("unroll", 4), ("launch-bounds", 2)]


def _applicable_sequence(unit: KernelUnit, target) -> list:
    steps = [s for s in FULL if s[0] != "unroll"]
    steps = [s for s in steps if apply_sequence(unit, [s], target) is not None]
    with_unroll = canonical(steps + [("unroll", 4)])
    return list(with_unroll) if apply_sequence(unit, list(with_unroll), target) is not None else steps


def _compile_and_validate(kernel: str, target, source: str, launches=None):
    from portkern.harness.validate import validate

    lib = load_library("blas")
    spec = lib.kernel(kernel)
    if launches:
        spec = dataclasses.replace(spec, launches=list(launches))
    flags = lib.compile_flags if target.dialect == lib.dialect else []
    compiled = compile_stage(source, spec, lib, target, dict(spec.defaults), flags)
    result = validate(lib, spec, target, runner="emu", source=source, params=dict(spec.defaults),
                      dtypes=[spec.dtypes[0]], extra=CompileOptions(include_dirs=include_dirs(lib, spec)))
    return compiled, result


def _toolchains_missing(target) -> str:
    for name, why in ((target.backend, "target compiler"), ("emu", "emulator compiler")):
        avail = backends.get(name).available()
        if not avail.ok and "compiler" in (avail.reason or "").lower():
            return f"no {why} for {target.name}: {avail.reason}"
    return ""


@pytest.mark.slow
@pytest.mark.parametrize("target", [MI300X, H100], ids=lambda t: t.name)
@pytest.mark.parametrize("kernel", ["axpy", "scal", "copy", "dot", "nrm2"])
def test_rewritten_blas_kernels_compile_and_validate_at_the_target_width(kernel, target):
    missing = _toolchains_missing(target)
    if missing:
        pytest.skip(missing)
    unit = blas_unit(kernel, target.dialect)
    steps = _applicable_sequence(unit, target)
    applied = apply_sequence(unit, steps, target)
    assert applied is not None and len(applied.steps) >= 2, steps
    compiled, result = _compile_and_validate(kernel, target, applied.unit.source, applied.unit.launches)
    assert compiled["arch"] == target.arch and compiled["entry_map"]
    assert result.wavefront == target.wavefront
    assert result.passed, f"{sequence_label(steps)}: {result.failure}: {result.detail}"


@pytest.mark.slow
def test_a_grid_stride_that_skips_elements_fails_validation():
    """The emulator run exercises the loop: striding one block too far leaves elements unwritten."""
    missing = _toolchains_missing(MI300X)
    if missing:
        pytest.skip(missing)
    rw = get_operator("grid-stride").apply(blas_unit("scal"), 4, MI300X)
    broken = rw.source.replace("tid += gridDim.x * NB", "tid += (gridDim.x + 1) * NB")
    assert broken != rw.source
    _, result = _compile_and_validate("scal", MI300X, broken, rw.launches)
    assert not result.passed and result.wavefront == 64


@pytest.mark.slow
def test_port_evolve_on_the_emulator_gives_wave64_correct_operator_candidates(tmp_path):
    from portkern.pipeline.run import PortOptions, port

    missing = _toolchains_missing(MI300X)
    if missing:
        pytest.skip(missing)
    cfg_file = tmp_path / "portkern.yaml"
    cfg_file.write_text(json.dumps({"llm": {"provider": "ollama", "ollama_host": f"http://127.0.0.1:{free_port()}"},
                                    "cache_dir": str(tmp_path / "cache")}))
    runs = tmp_path / "runs"
    summary = port(PortOptions(library="blas", target="mi300x", kernels=["axpy"], budget=2, strategy="evolve",
                               run_id="ops", runs_dir=str(runs), cache_dir=str(tmp_path / "cache")),
                   config=load_config(cfg_file, environ={}))
    assert any("no model server" in n for n in summary["notes"]), summary["notes"]
    con = sqlite3.connect(runs / "index.sqlite")
    rows = con.execute("SELECT candidate_id, origin, validated, validation_device FROM candidates "
                       "WHERE run_id = 'ops'").fetchall()
    con.close()
    # the base and two proposals; a proposal that only moves a tunable is not compiled when the estimate
    # cannot rank it above the base (no GPU), and the summary says so
    unranked = sum(int(m.group(1)) for m in (re.search(r"cannot rank (\d+) sweep point", n) for n in summary["notes"]) if m)
    assert len(rows) + unranked == 3 and all(r[2] == 1 and "wave64" in r[3] for r in rows), (rows, summary["notes"])
    assert any(r[1] == "operator" for r in rows)
    evaluations = json.loads((runs / "ops" / "results" / "axpy" / "evaluations.json").read_text())
    operated = [e["candidate"] for e in evaluations if e["candidate"]["origin"] == "operator"]
    assert operated and all(c["operators"] and c["source"] != evaluations[0]["candidate"]["source"] for c in operated)
    assert all(any(n.startswith(c["operators"][0] + ":") for n in c["notes"]) for c in operated)
