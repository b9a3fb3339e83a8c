"""tile-gemm on the real gemm kernels of libraries/blas (plain, strided-batched and pointer-batched):
where it applies and where it refuses, the points it suggests and that the searches try them first;
then the rewritten units built with the target compilers (nvcc for sm_90: registers and spills at each
suggested point; clang for gfx942) and validated on the CPU emulator at the target's wavefront width
(32 for h100, 64 for mi300x), at ragged sizes larger than a block tile, with beta = 0 and a NaN-filled
C, and with faults planted in the rewrite."""

from __future__ import annotations

import dataclasses
import json
import sqlite3

import pytest
from llm_server import free_port
from test_operators import H100, MI300X, _toolchains_missing, blas_unit

from portkern.config import load_config
from portkern.library import LaunchSpec, load_library
from portkern.model import CompileOptions
from portkern.pipeline.kernels import include_dirs
from portkern.pipeline.stages import compile_stage
from portkern.search.base import Candidate, Evaluation, SearchContext
from portkern.search.genome import realise, seeds
from portkern.search.operator_search import OperatorEvolution, OperatorRefinement
from portkern.search.operators import KernelUnit, apply_sequence, get_operator, operators_for
from portkern.search.operators.tile_gemm import BLOCKS, DOUBLE_BUFFER, MARK, PAD
from portkern.targets import get_target

H200 = get_target("h200")
GEMMS = ["gemm", "gemm_strided_batched", "gemm_batched"]
TILE = get_operator("tile-gemm")


def tiles(point) -> dict[str, int]:
    return dict(zip(("BM", "BN", "BK", "TM", "TN"), point))


# --------------------------------------------------------------------------- where it applies


@pytest.mark.parametrize("target", [MI300X, H200], ids=lambda t: t.name)
@pytest.mark.parametrize("kernel", GEMMS)
def test_tile_gemm_rewrites_the_body_and_keeps_the_head_and_the_launch(kernel, target):
    unit = blas_unit(kernel, target.dialect)
    assert "tile-gemm" in {op.name for op in operators_for(target)}
    for arg in TILE.arguments(target):
        rw = TILE.apply(unit, arg, target)
        assert rw is not None, arg
        assert rw.edits == ["gemm_nn_kernel"] and rw.launches == unit.launches
        assert f"{MARK}{arg})" in rw.source
        # the helpers come before the kernel's template head, which the kernel macro detaches from the name
        assert rw.source.index("struct portkern_tile_fit") < rw.source.index("template <typename I, int BM")
        # the original's beta == 0 flag decides whether C is read; batch pointers as the original takes them
        assert "const bool beta_zero = blas_is_zero(beta);" in rw.source and "if(beta_zero)" in rw.source
        assert "load_ptr_batch(A, blockIdx.z, 0, stride_a)" in rw.source
        assert ("pk_stages = (1 &&" in rw.source) == bool(arg & DOUBLE_BUFFER)
        assert ("pk_pad = (1 &&" in rw.source) == bool(arg & PAD)
        assert ("portkern_tile_blocks<(BM / TM) * (BN / TN)" in rw.source) == bool(arg & BLOCKS)
    # the register budget is nvcc's reading of the second launch bound (minimum resident blocks)
    assert (DOUBLE_BUFFER | PAD | BLOCKS in TILE.arguments(target)) == (target.vendor == "nvidia")
    assert TILE.apply(unit, 8, target) is None


def test_the_register_budget_goes_into_the_kernels_own_launch_bounds():
    rw = TILE.apply(blas_unit("gemm", "cuda"), DOUBLE_BUFFER | PAD | BLOCKS, H200)
    head = rw.source[rw.source.index("template <typename I, int BM"):rw.source.index("gemm_nn_kernel(I m")]
    assert head.count("__launch_bounds__((BM / TM) * (BN / TN), portkern_tile_blocks<") == 1
    assert f"{H200.registers_per_cu}, {H200.max_blocks_per_cu}," in head
    assert "#define BLAS_KERNEL(NB_) static __global__ __launch_bounds__(NB_) void" in rw.source   # macro kept


@pytest.mark.parametrize("kernel", ["axpy", "dot", "gemv_n", "gemv_t", "ger", "trsv_lower", "scal", "iamax"])
def test_tile_gemm_refuses_kernels_that_are_not_gemm_like(kernel):
    for target in (MI300X, H200):
        unit = blas_unit(kernel, target.dialect)
        assert all(TILE.apply(unit, arg, target) is None for arg in TILE.arguments(target))


def _variant(unit: KernelUnit, old: str, new: str) -> KernelUnit:
    assert old in unit.source
    return dataclasses.replace(unit, source=unit.source.replace(old, new))


def test_tile_gemm_refuses_what_it_cannot_prove_is_the_gemm_contract():
    unit = blas_unit("gemm")
    arg = DOUBLE_BUFFER | PAD
    assert TILE.apply(unit, arg, MI300X) is not None
    launch = unit.launches[0]
    # a block that is not one thread per TM x TN results, a grid not of BM x BN tiles, the tile parameters
    # passed in another order, arguments that are not BLAS's (no ldc)
    for change in ({"block": ["(BM // TM) * (BN // TN) * 2", 1, 1]}, {"grid": ["ceil_div(n, BN)", "ceil_div(m, BM)", 1]},
                   {"template_args": ["int", "BM", "BN", "BK", "TN", "TM", "T", "T", "const T*", "T*"]},
                   {"args": ["m", "n", "k", "alpha", "A", "lda", "stride_a", "B", "ldb", "stride_b", "beta", "C",
                             "m", "stride_c"]}):
        other = dataclasses.replace(unit, launches=[LaunchSpec(**{**dataclasses.asdict(launch), **change})])
        assert TILE.apply(other, arg, MI300X) is None, change
    # beta tested other than through the original's flag: whether C is read with beta == 0 is not known
    assert TILE.apply(_variant(unit, "c = beta_zero ? alpha * acc[i][j]", "c = beta == 0 ? alpha * acc[i][j]"),
                      arg, MI300X) is None
    # the flag choosing the expression that reads C
    assert TILE.apply(_variant(unit, "c = beta_zero ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c;",
                               "c = beta_zero ? alpha * acc[i][j] + beta * c : alpha * acc[i][j];"), arg, MI300X) is None
    # a matrix not indexed by its leading dimension (not column-major as declared)
    assert TILE.apply(_variant(unit, "Bb[gr + int64_t(gc) * ldb]", "Bb[gr * n + gc]"), arg, MI300X) is None
    # once tiled, never again
    tiled = TILE.apply(unit, arg, MI300X)
    again = KernelUnit(source=tiled.source, launches=tiled.launches, dialect="hip", rewritable=unit.rewritable)
    assert TILE.apply(again, arg, MI300X) is None


# --------------------------------------------------------------------------- what the searches try first


def _context(kernel: str, target, budget: int = 6) -> SearchContext:
    lib = load_library("blas")
    unit = blas_unit(kernel, target.dialect)
    base = Candidate(id=f"{kernel}/rules-0", kernel=kernel, source=unit.source, params={}, origin="rules")
    return SearchContext(kernel=lib.kernel(kernel), library=lib, target=target, dialect=target.dialect, base=base,
                         budget={"max_candidates": budget})


def test_tile_gemm_suggests_the_fast_sgemm_shapes_among_the_declared_tunables():
    space = load_library("blas").kernel("gemm").tunables
    on_h200 = TILE.suggestions(space, H200)
    assert [(dict(s.params), s.arg) for s in on_h200] == [
        (tiles((128, 128, 8, 8, 8)), DOUBLE_BUFFER | PAD | BLOCKS), (tiles((128, 128, 8, 8, 8)), DOUBLE_BUFFER | PAD),
        (tiles((128, 64, 8, 8, 8)), DOUBLE_BUFFER | PAD), (tiles((64, 64, 8, 4, 4)), DOUBLE_BUFFER | PAD),
        (tiles((128, 128, 16, 8, 8)), DOUBLE_BUFFER | PAD)]
    assert all(s.why and not s.steps for s in on_h200)
    # no register budget on AMD; nothing outside the declared values
    assert [s.arg for s in TILE.suggestions(space, MI300X)] == [DOUBLE_BUFFER | PAD] * 4
    assert TILE.suggestions({**space, "BK": [16, 32]}, H200) == on_h200[-1:]


@pytest.mark.parametrize("kernel", GEMMS)
def test_the_searches_try_the_suggested_points_first(kernel):
    ctx = _context(kernel, H200)
    first = seeds(ctx)
    assert [g.steps for g in first[:2]] == [(("tile-gemm", 7),), (("tile-gemm", 3),)]
    assert dict(first[0].params) == tiles((128, 128, 8, 8, 8)) and all(realise(ctx, g) for g in first)
    # a streaming kernel's one suggested point: 16-byte accesses with a quarter of the blocks
    assert [g.steps for g in seeds(_context("axpy", H200))] == [(("vectorize", 4),)]
    base = Evaluation(candidate=ctx.base, compiled=True, score_ms=1.0,
                      validation=_passed(kernel))
    evolve = OperatorEvolution().propose(ctx, [base])
    assert [c.operators for c in evolve] == [["tile-gemm(7)"], ["tile-gemm(3)"], ["tile-gemm(3)"], ["tile-gemm(3)"]]
    assert evolve[0].params == tiles((128, 128, 8, 8, 8)) and evolve[0].source != ctx.base.source
    assert any("suggested point" in n for n in evolve[0].notes)
    refine = OperatorRefinement().propose(_context(kernel, H200), [base])
    assert [c.operators[:1] for c in refine[:5]] == [["tile-gemm(7)"]] + [["tile-gemm(3)"]] * 4


@pytest.mark.parametrize("strategy", ["evolve", "refine"])
def test_with_a_model_server_the_suggested_points_come_first_and_the_model_starts_from_the_best(strategy):
    """With a model the strategies write rewrites with it, but first try the operators' suggested
    points (at most half the candidates); refine then continues from a point that beat the base."""
    from llm_server import FakeOllamaServer

    from portkern.llm import LLMClient, make_provider
    from portkern.search import get_strategy

    with FakeOllamaServer(reply="no code here") as server:
        provider = make_provider({"provider": "ollama", "ollama_host": server.url, "model": "qwen2.5-coder:7b",
                                  "timeout_s": 5.0})
        ctx = dataclasses.replace(_context("gemm", H200, budget=6),
                                  llm=LLMClient(provider, run_id="t", retries=0))
        strat = get_strategy(strategy)
        base = Evaluation(candidate=ctx.base, compiled=True, score_ms=1.0, spread_ms=0.01, validation=_passed("gemm"))
        first = strat.propose(ctx, [base])
        assert server.chats == 0                          # no model call before the suggested points
        assert 1 <= len(first) <= 3 and all(c.operators and c.operators[0].startswith("tile-gemm") for c in first)
        assert all(c.id.startswith("gemm/operator-") for c in first)
        assert any("suggested point" in n for n in ctx.notes)
        evaluated = [Evaluation(candidate=c, compiled=True, score_ms=0.5 if i == 0 else 2.0, spread_ms=0.01,
                                validation=_passed("gemm")) for i, c in enumerate(first)]
        strat.propose(ctx, [base, *evaluated])            # now the model is asked (it writes no code)
        assert server.chats >= 1
        if strategy == "refine":
            assert any(f"refining from {first[0].id}" in n for n in ctx.notes)
            prompt = server.chat_bodies()[0]["messages"][-1]["content"]
            assert MARK in prompt                         # the request carries the tiled kernel


def _passed(kernel: str):
    from portkern.model import ValidationResult

    return ValidationResult(kernel=kernel, backend="emu", device="cpu-emulator", wavefront=32, passed=True)


# --------------------------------------------------------------------------- real compilers


def _compile(kernel: str, target, source: str, params: dict[str, int]) -> dict[str, dict]:
    """Resources per element type of the unit built for the target at these tunables."""
    lib = load_library("blas")
    spec = lib.kernel(kernel)
    flags = lib.compile_flags if target.dialect == lib.dialect else []
    compiled = compile_stage(source, spec, lib, target, params, flags)
    assert compiled["arch"] == target.arch and compiled["entry_map"]
    return {("float64" if "EddPKd" in sym else "float32"): res for sym, res in compiled["resources"].items()}


@pytest.mark.slow
@pytest.mark.parametrize("target", [MI300X, H200], ids=lambda t: t.name)
def test_every_suggested_point_builds_for_the_target_without_spills_in_fp32(target):
    missing = _toolchains_missing(target)
    if missing:
        pytest.skip(missing)
    unit = blas_unit("gemm", target.dialect)
    for s in TILE.suggestions(load_library("blas").kernel("gemm").tunables, target):
        applied = apply_sequence(unit, [("tile-gemm", s.arg), *s.steps], target)
        res = _compile("gemm", target, applied.unit.source, dict(s.params))
        assert res["float32"]["spill_bytes"] == 0, (s, res)
        if target.vendor == "nvidia" and s.arg & BLOCKS:
            # two resident 256-thread blocks: at most 128 registers a thread, none spilled
            assert res["float32"]["registers"] <= H200.registers_per_cu // (2 * 256), res
        if target.vendor == "nvidia" and dict(s.params)["BK"] == 8:
            assert res["float64"]["spill_bytes"] == 0, (s, res)


# --------------------------------------------------------------------------- the emulator


def _validate(spec, target, source: str, params: dict[str, int], dtypes=None):
    from portkern.harness.validate import validate

    lib = load_library("blas")
    return validate(lib, spec, target, runner="emu", source=source, params=params, dtypes=dtypes,
                    extra=CompileOptions(include_dirs=include_dirs(lib, spec)))


def _spec(kernel: str, sizes=None, **arg_changes):
    spec = load_library("blas").kernel(kernel)
    args = [dataclasses.replace(a, **arg_changes[a.name]) if a.name in arg_changes else a for a in spec.args]
    return dataclasses.replace(spec, args=args, sizes_validate=sizes or spec.sizes_validate)


# ragged in m, n and k, several blocks and k-slabs each, with leading dimensions that allow the vector
# loads (m and k multiples of 4) and that do not
LARGE = [{"m": 260, "n": 136, "k": 44}, {"m": 257, "n": 131, "k": 37}, {"m": 132, "n": 259, "k": 9}]
LARGE_BATCHED = [dict(s, batch_count=2) for s in LARGE[:2]]
POINTS = [((128, 128, 8, 8, 8), DOUBLE_BUFFER | PAD | BLOCKS), ((128, 128, 8, 8, 8), DOUBLE_BUFFER | PAD),
          ((128, 64, 8, 8, 8), DOUBLE_BUFFER | PAD), ((64, 64, 8, 4, 4), DOUBLE_BUFFER),
          ((128, 128, 16, 8, 8), PAD), ((32, 64, 32, 4, 8), 0)]


@pytest.mark.slow
@pytest.mark.parametrize("target", [MI300X, H100], ids=lambda t: t.name)
@pytest.mark.parametrize("kernel", GEMMS)
def test_tiled_gemms_validate_at_the_target_width(kernel, target):
    """The library's own cases (hidden ones included) and larger ragged ones, every element type."""
    missing = _toolchains_missing(target)
    if missing:
        pytest.skip(missing)
    unit = blas_unit(kernel, target.dialect)
    plain = load_library("blas").kernel(kernel)
    large = _spec(kernel, LARGE_BATCHED if "batch" in kernel else LARGE)
    for point, arg in POINTS:
        if arg not in TILE.arguments(target):
            continue
        source = TILE.apply(unit, arg, target).source
        for spec in (plain, large):
            result = _validate(spec, target, source, tiles(point))
            assert result.wavefront == target.wavefront
            assert result.passed, f"{point} tile-gemm({arg}): {result.failure}: {result.detail}"


@pytest.mark.slow
@pytest.mark.parametrize("target", [MI300X, H100], ids=lambda t: t.name)
def test_with_beta_zero_c_is_never_read(target):
    """beta = 0 and C an output the harness fills with its poison (a NaN for most seeds): the rewrite
    passes; the same rewrite made to read C anyway (0 * NaN) fails."""
    missing = _toolchains_missing(target)
    if missing:
        pytest.skip(missing)
    spec = _spec("gemm", LARGE + load_library("blas").kernel("gemm").sizes_validate,
                 beta={"value": "0"}, C={"role": "output"})
    rw = TILE.apply(blas_unit("gemm", target.dialect), DOUBLE_BUFFER | PAD, target)
    assert _validate(spec, target, rw.source, tiles((128, 64, 8, 8, 8)), ["float32"]).passed
    broken = rw.source.replace("if(beta_zero)", "if(false)").replace("pk_e = beta_zero ?", "pk_e = false ?")
    assert broken != rw.source
    result = _validate(spec, target, broken, tiles((128, 64, 8, 8, 8)), ["float32"])
    assert not result.passed and result.wavefront == target.wavefront


PLANTED = [
    # the ragged end of k read as if whole
    ("const bool pk_kin = pk_v / (BM / pk_va) < ", "const bool pk_kin = true || pk_v / (BM / pk_va) < "),
    # the next slab stored into the stage being computed from (a race between the block's warps)
    ("pk_store_stage", "pk_s"),
    # the last row of C left unwritten where the rows end inside a thread's vector
    ("if(pk_row + pk_q < pk_m)", "if(pk_row + pk_q + 1 < pk_m)"),
    # the vector paths (aligned, whole vectors: m = 260, k = 44) losing a lane: of C, of the A slab
    ("+ beta * pk_c[pk_q];", "+ beta * pk_c[0];"),
    ("portkern_vload<pk_va>(pk_pa[pk_l], pk_ra[pk_l]);",
     "{ portkern_vload<pk_va>(pk_pa[pk_l], pk_ra[pk_l]); pk_ra[pk_l][pk_va - 1] = T(0); }"),
]


@pytest.mark.slow
@pytest.mark.parametrize("target", [MI300X, H100], ids=lambda t: t.name)
@pytest.mark.parametrize("good,bad", PLANTED, ids=["k-edge", "stage-race", "c-edge", "c-vector", "a-vector"])
def test_faults_planted_in_the_rewrite_fail_validation(good, bad, target):
    missing = _toolchains_missing(target)
    if missing:
        pytest.skip(missing)
    rw = TILE.apply(blas_unit("gemm", target.dialect), DOUBLE_BUFFER | PAD, target)
    if good == "pk_store_stage":
        good = "pk_smem.b[pk_s ^ (pk_stages - 1)]"
        bad = "pk_smem.b[pk_s]"
    broken = rw.source.replace(good, bad)
    assert broken != rw.source
    result = _validate(_spec("gemm", LARGE), target, broken, tiles((128, 128, 8, 8, 8)), ["float32"])
    assert not result.passed and result.wavefront == target.wavefront


# --------------------------------------------------------------------------- through `portkern port`


@pytest.mark.slow
def test_port_evolve_with_a_budget_of_six_times_the_tiled_gemm(tmp_path):
    from portkern.pipeline.run import PortOptions, port

    missing = _toolchains_missing(H200)
    if missing:
        pytest.skip(missing)
    cfg_file = tmp_path / "portkern.yaml"
    cfg_file.write_text(json.dumps({"llm": {"provider": "ollama", "ollama_host": f"http://127.0.0.1:{free_port()}"},
                                    "cache_dir": str(tmp_path / "cache")}))
    runs = tmp_path / "runs"
    port(PortOptions(library="blas", target="h200", kernels=["gemm"], budget=6, strategy="evolve", run_id="tile",
                     runs_dir=str(runs), cache_dir=str(tmp_path / "cache")), config=load_config(cfg_file, environ={}))
    evaluations = json.loads((runs / "tile" / "results" / "gemm" / "evaluations.json").read_text())
    tiled = [e for e in evaluations if any(op.startswith("tile-gemm(") for op in e["candidate"]["operators"])]
    assert len(tiled) >= 4 and all(e["compiled"] for e in tiled), [e["candidate"]["operators"] for e in evaluations]
    first = tiled[0]
    assert first["candidate"]["operators"] == ["tile-gemm(7)"] and first["candidate"]["params"]["BM"] == 128
    assert first["resources"]["registers"] <= 128 and first["resources"]["spill_bytes"] == 0
    # The performance model may rule a candidate out before validation (the tests' fixed-width analytic
    # model does so for one resident 256-thread block); every one it keeps is validated, and passes.
    kept = [e for e in tiled if e["prediction"].get("kept", True)]
    assert first in kept
    for e in kept:
        assert e["validation"] and e["validation"]["passed"], (e["candidate"]["id"], e["validation"])
        assert "wave32" in e["validation"]["device"]
    con = sqlite3.connect(runs / "index.sqlite")
    rows = con.execute("SELECT candidate_id, validated FROM candidates WHERE run_id = 'tile'").fetchall()
    con.close()
    assert sum(1 for r in rows if r[1] == 1) >= len(kept)


@pytest.mark.parametrize("target", [H200, MI300X], ids=["h200", "mi300x"])
def test_reductions_are_offered_vector_loads_with_a_shuffle_reduction_first(target):
    # Measured best for the reductions on a GPU: both steps together, at the target's width.
    for kernel in ("nrm2", "asum", "dot"):
        ctx = _context(kernel, target)
        first = seeds(ctx)
        vec, shuffle = ("vectorize", 4), ("warp-reduce", target.wavefront)
        unroll = ("unroll", 4)
        assert [g.steps for g in first] == [(vec, shuffle), (vec,), (vec, shuffle, ("fewer-blocks", 8)),
                                            (vec, shuffle, unroll, ("fewer-blocks", 8)),
                                            (vec, shuffle, unroll, ("fewer-blocks", 16)),
                                            (vec, ("fewer-blocks", 8)), (vec, unroll, ("fewer-blocks", 8))], kernel
        made = realise(ctx, first[0])
        assert made is not None and made != ctx.base.source
    # streaming kernels (no reduction to shuffle) get vector accesses alone, launched with 1/4 of the blocks
    for kernel in ("axpy", "scal"):
        first = seeds(_context(kernel, target))
        assert [g.steps for g in first] == [(("vectorize", 4),)]
        assert realise(_context(kernel, target), first[0]).grid_shrink
    assert all(g.steps[0][0] == "tile-gemm" for g in seeds(_context("gemm", target)))
