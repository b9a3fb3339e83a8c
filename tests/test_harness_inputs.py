"""Harness pieces that need no compiler: inputs, case planning, the checker, roofline, runners' absence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from portkern import backends
from portkern.errors import ToolMissingError
from portkern.harness import roofline
from portkern.harness.bench import bench_passed, estimate
from portkern.harness.compare import check_run
from portkern.harness.inputs import (
    GUARD_ELEMENTS,
    from_storage,
    make_case,
    poison_mask,
    to_storage,
)
from portkern.harness.runners.base import get_runner
from portkern.harness.validate import derived_sizes, plan_cases
from portkern.library import load_library
from portkern.model import BenchResult, CompileOptions, CompileResult, ResourceReport
from portkern.targets import get_target

ADVERSARIAL = Path(__file__).parent / "adversarial"


@pytest.fixture(scope="module")
def adv():
    return load_library(ADVERSARIAL)


def honest_run(case):
    """What a correct z = a*x + y kernel leaves in the buffers (computed here in numpy)."""
    after = case.fresh_buffers()
    a = float(case.reference_args["a"])
    n = case.arrays["z"].count
    x = from_storage(after["x"][0][:n], case.dtype)
    y = from_storage(after["y"][0][:n], case.dtype)
    after["z"][0][:n] = to_storage(a * x + y, case.dtype)
    return after


def same_bits(a, b):
    return np.array_equal(a.view(np.uint8), b.view(np.uint8))


def reference(case, adv):
    kernel = adv.kernel("honest_axpby")
    return adv.reference(kernel)(case.reference_args, case.dtype)


# --------------------------------------------------------------------------- inputs


@pytest.mark.parametrize("variant", ["standard", "wide", "tiny", "huge"])
@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32", "float64"])
def test_inputs_are_seeded_nonzero_and_outputs_poisoned(adv, variant, dtype):
    k = adv.kernel("honest_axpby")
    case = make_case(k, {"n": 1000}, dtype, 7, variant=variant)
    x = from_storage(case.arrays["x"].buffers[0][:1000], dtype)
    assert np.all(np.isfinite(x)) and np.all(x != 0)
    assert (x < 0).any() and (x > 0).any()
    z = case.arrays["z"].buffers[0]
    assert z.shape[0] == 1000 + GUARD_ELEMENTS and poison_mask(z[:1000], dtype, case.poison_seed).all()
    # Guards hold random bytes of the case, not the poison: nothing to recognise.
    assert not poison_mask(z[1000:], dtype, case.poison_seed).all()
    assert not poison_mask(case.arrays["x"].buffers[0][1000:], dtype, case.poison_seed).all()
    again = make_case(k, {"n": 1000}, dtype, 7, variant=variant)
    assert same_bits(again.arrays["x"].buffers[0], case.arrays["x"].buffers[0])
    other = make_case(k, {"n": 1000}, dtype, 8, variant=variant)
    assert not np.array_equal(other.arrays["x"].buffers[0][:1000], case.arrays["x"].buffers[0][:1000])
    # The reference sees exactly the values the kernel sees (rounded to the dtype).
    assert np.array_equal(case.reference_args["x"], x)


def test_variants_reach_tiny_and_huge_magnitudes(adv):
    k = adv.kernel("honest_axpby")
    tiny = make_case(k, {"n": 500}, "float32", 1, variant="tiny").reference_args["x"]
    huge = make_case(k, {"n": 500}, "float32", 1, variant="huge").reference_args["x"]
    assert np.abs(tiny).max() < 1e-6 and np.abs(huge).min() > 1e6


def test_batched_layouts_guard_gaps_and_reference_view(adv):
    lib = load_library("blas")
    names = {k.name for k in lib.kernels}
    if not {"axpy_strided_batched", "axpy_batched"} <= names:
        pytest.skip("blas has no batched axpy variants")
    strided = make_case(lib.kernel("axpy_strided_batched"), {"n": 37, "batch_count": 3}, "float32", 3)
    y = strided.arrays["y"]
    assert y.batches == 3 and len(y.buffers) == 1 and strided.reference_args["y"].shape == (3, 37)
    ptrs = make_case(lib.kernel("axpy_batched"), {"n": 37, "batch_count": 3}, "float32", 3)
    assert len(ptrs.arrays["x"].buffers) == 3 and ptrs.reference_args["x"].shape == (3, 37)
    assert all(b.shape[0] == 37 + GUARD_ELEMENTS for b in ptrs.arrays["x"].buffers)


def test_bfloat16_rounds_to_nearest_even():
    v = np.array([1.0, 1.00390625, 1.01171875, -2.5, 3.0e38])
    back = from_storage(to_storage(v, "bfloat16"), "bfloat16")
    assert back[0] == 1.0 and back[1] == 1.0 and back[2] == 1.015625 and back[3] == -2.5
    assert abs(back[4] - 3.0e38) / 3.0e38 < 1e-2


# --------------------------------------------------------------------------- planning


def test_hidden_cases_use_unseen_sizes_and_fresh_seeds(adv):
    k = adv.kernel("shape_shortcut")
    first, second = plan_cases(k), plan_cases(k)
    public = [p for p in first if p.visibility == "public"]
    hidden = [p for p in first if p.visibility == "hidden"]
    assert [(p.sizes, p.seed) for p in public] == [(p.sizes, p.seed) for p in second if p.visibility == "public"]
    public_sizes = {p.sizes["n"] for p in public}
    assert any(p.sizes["n"] not in public_sizes for p in hidden)
    assert any(p.sizes["n"] % 2 == 1 for p in hidden)
    assert {p.variant for p in hidden} >= {"tiny", "huge", "wide"}
    assert {p.seed for p in hidden}.isdisjoint({p.seed for p in public})
    assert [p.seed for p in hidden] != [p.seed for p in second if p.visibility == "hidden"]


def test_derived_sizes_stay_inside_the_public_range():
    sizes = [{"n": 1, "inc": 1}, {"n": 7, "inc": 1}, {"n": 257, "inc": 2}, {"n": 4099, "inc": 1}]
    derived = derived_sizes(sizes, np.random.default_rng(0))
    assert derived and all(d not in sizes for d in derived)
    assert all(1 <= d["n"] <= 4099 and 1 <= d["inc"] <= 2 for d in derived)
    fixed = derived_sizes([{"n": 64, "nb": 64}, {"n": 32, "nb": 64}], np.random.default_rng(0))
    assert all(d["nb"] == 64 for d in fixed)


# --------------------------------------------------------------------------- the checker


def test_honest_outputs_pass_every_variant(adv):
    k = adv.kernel("honest_axpby")
    for variant in ("standard", "wide", "tiny", "huge"):
        for dtype in ("float32", "float64"):
            case = make_case(k, {"n": 777}, dtype, 11, variant=variant)
            res = check_run(k, case, honest_run(case), reference(case, adv))
            assert res.passed, (variant, dtype, res.failure, res.detail)


def test_checker_names_each_failure(adv):
    k = adv.kernel("honest_axpby")
    case = make_case(k, {"n": 300}, "float32", 5)
    ref = reference(case, adv)

    after = honest_run(case)
    after["z"][0][300] = 0.0
    assert check_run(k, case, after, ref).failure == "out-of-bounds-write"

    after = honest_run(case)
    after["x"][0][17] += 1
    assert check_run(k, case, after, ref).failure == "input-mutated"

    after = honest_run(case)
    after["z"][0][299] = case.arrays["z"].buffers[0][299]
    res = check_run(k, case, after, ref)
    assert res.failure == "unwritten" and "1 of 300" in res.detail

    after = honest_run(case)
    after["z"][0][3] = np.float32("nan")
    assert check_run(k, case, after, ref).failure == "nan"

    after = honest_run(case)
    after["z"][0][42] *= 1.001
    res = check_run(k, case, after, ref)
    assert res.failure == "mismatch" and res.mismatch_sample[0]["index"] == 42
    assert res.max_rel_error == pytest.approx(1e-3, rel=0.05)


def test_float32_result_is_rejected_against_float64_tolerance(adv):
    k = adv.kernel("honest_axpby")
    case = make_case(k, {"n": 500}, "float64", 9)
    after = honest_run(case)
    z = after["z"][0]
    z[:500] = z[:500].astype(np.float32).astype(np.float64)
    assert check_run(k, case, after, reference(case, adv)).failure == "mismatch"


# --------------------------------------------------------------------------- roofline and estimate


def test_time_below_the_roofline_minimum_is_flagged(adv):
    k = adv.kernel("honest_axpby")
    h100 = get_target("h100")
    work = roofline.work_of(k, {"n": 1 << 24}, "float32")
    floor_ms = roofline.min_seconds(work, h100, "float32") * 1e3
    fast = BenchResult(kernel=k.name, sizes={"n": 1 << 24}, dtype="float32", method="device-events",
                       device="x", median_ms=floor_ms / 3, spread_ms=0.0)
    roofline.fill_figures(fast, work, h100)
    assert roofline.ABOVE_ROOFLINE in fast.flags and not bench_passed(fast)
    honest = BenchResult(kernel=k.name, sizes={"n": 1 << 24}, dtype="float32", method="device-events",
                         device="x", median_ms=floor_ms * 1.3, spread_ms=0.0)
    roofline.fill_figures(honest, work, h100)
    assert honest.flags == [] and bench_passed(honest)
    assert 0.7 < honest.roofline_fraction < 0.8
    assert honest.gbs == pytest.approx(h100.peak_bandwidth_gbs / 1.3, rel=1e-6)


def test_estimate_is_labelled_and_follows_occupancy(adv):
    k = adv.kernel("honest_axpby")
    t = get_target("mi300x")
    full = estimate(k, {"n": 1 << 24}, "float32", t, ResourceReport(symbol="s", occupancy_fraction=1.0))
    low = estimate(k, {"n": 1 << 24}, "float32", t, ResourceReport(symbol="s", occupancy_fraction=0.05))
    assert full.method == low.method == "estimate" and "estimate" in full.flags
    assert low.median_ms > full.median_ms > roofline.min_seconds(roofline.work_of(k, {"n": 1 << 24}, "float32"),
                                                                 t, "float32") * 1e3


# --------------------------------------------------------------------------- device runners without devices


def _dummy_compiled() -> CompileResult:
    return CompileResult(backend="hip", target="mi300x", arch="gfx942", code_type="hsaco", binary=b"",
                         entry_symbols=[], entry_map={}, resources={}, log="", compiler="", options=CompileOptions(),
                         cache_key="")


def test_hip_runner_imports_and_says_why_it_cannot_run():
    runner = get_runner("hip")
    avail = runner.available()
    if avail.ok:
        pytest.skip("an AMD GPU with hip-python is present")
    assert avail.reason and ("hip-python" in avail.reason or "AMD GPU" in avail.reason)
    with pytest.raises(ToolMissingError):
        runner.open_session(_dummy_compiled(), get_target("mi300x"))


def test_cuda_runner_reports_absence_with_reason():
    avail = get_runner("cuda").available()
    if avail.ok:
        pytest.skip("an NVIDIA GPU is present")
    assert avail.reason


@pytest.mark.parametrize("name", ["cuda", "hip"])
def test_gpu_backend_load_without_a_gpu_says_why(name):
    backend = backends.get(name)
    avail = backend.runner().available()
    if avail.ok:
        pytest.skip(f"a GPU for the {name} backend is present")
    with pytest.raises(ToolMissingError) as info:
        backend.load(_dummy_compiled(), "k")
    assert avail.reason in str(info.value)


def test_poison_and_guards_vary_between_cases_and_stay_seeded(adv):
    k = adv.kernel("honest_axpby")
    poisons, guards = set(), set()
    for seed in range(40):
        case = make_case(k, {"n": 64}, "float32", seed)
        z = case.arrays["z"].buffers[0]
        poisons.add(z[:64].view(np.uint32)[0].item())
        guards.add(z[64:].tobytes())
        assert poison_mask(z[:64], "float32", case.poison_seed).all()
    assert len(poisons) > 30 and len(guards) == 40
    finite = [p for p in poisons if np.isfinite(np.array([p], np.uint32).view(np.float32)[0])]
    assert finite and len(finite) < len(poisons)          # plain finite values and NaN payloads both occur
    again = make_case(k, {"n": 64}, "float32", 3)
    assert same_bits(again.arrays["z"].buffers[0], make_case(k, {"n": 64}, "float32", 3).arrays["z"].buffers[0])


@pytest.mark.parametrize("variant", ["zeros", "sparse", "structured"])
def test_zero_and_structured_variants(adv, variant):
    k = adv.kernel("honest_axpby")
    x = make_case(k, {"n": 1000}, "float32", 5, variant=variant).arrays["x"].buffers[0][:1000].astype(np.float64)
    if variant == "zeros":
        assert (x == 0).all()
    elif variant == "sparse":
        assert 0.15 < (x == 0).mean() < 0.45 and (x != 0).any()
    else:
        assert np.array_equal(x, np.round(x)) and np.abs(x).max() <= 4 and (x == 0).any()


@pytest.mark.parametrize("kernel, sizes", [
    ("gemm_strided_batched", {"m": 33, "n": 17, "k": 19, "batch_count": 5}),
    ("axpy_batched", {"n": 300, "incx": 2, "incy": 1, "batch_count": 4}),
])
@pytest.mark.parametrize("variant", ["standard", "huge", "wide"])
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_batches_drawn_together_hold_the_bits_of_batches_drawn_one_by_one(kernel, sizes, variant, dtype):
    """A GPU builds every batch of an input in one pass (one row per batch's stream); the values are
    those each batch gets alone, so the emulator and a GPU check the same cases."""
    spec = load_library("blas").kernel(kernel)
    if dtype not in spec.dtypes:
        pytest.skip(f"{kernel} has no {dtype}")
    one_by_one = make_case(spec, sizes, dtype, 77, variant=variant, chunked=True)
    together = make_case(spec, sizes, dtype, 77, variant=variant, chunked=False)
    batched = [n for n, a in one_by_one.arrays.items() if a.batches > 1 and a.role in ("input", "inout")]
    assert batched
    for name, arr in one_by_one.arrays.items():
        for mine, theirs in zip(arr.buffers, together.arrays[name].buffers):
            assert mine.tobytes() == theirs.tobytes(), name


# --------------------------------------------------------------------------- batched layouts


def _batched_kernel(name, gap):
    """libraries/blas's strided or pointer batched axpy, the strided one with ``gap`` elements between batches."""
    import dataclasses

    k = load_library(Path(__file__).parents[1] / "libraries" / "blas").kernel(name)
    if gap:
        args = [dataclasses.replace(a, value=f"n + {gap}") if a.name in ("stride_x", "stride_y") else a
                for a in k.args]
        k = dataclasses.replace(k, args=args)
    return k


def _reference_run(case, ref):
    """What a correct kernel leaves: the float64 reference stored into every batch's elements."""
    after = case.fresh_buffers()
    for name, arg in case.arrays.items():
        if arg.role in ("output", "inout"):
            want = np.asarray(ref[name]).reshape(arg.batches, arg.count)
            for b, (i, s) in enumerate(arg.used_slices()):
                after[name][i][s] = to_storage(want[b], arg.dtype)
    return after


@pytest.mark.parametrize("name,gap", [("axpy_strided_batched", 0), ("axpy_strided_batched", 5),
                                      ("axpy_batched", 0)])
def test_batched_checks_compare_whole_buffers_and_agree_with_the_slice_walk(monkeypatch, name, gap):
    # check_run compares each argument's buffers at once (ArrayArg.rows: a [batches, count] view of a
    # strided buffer, the pointer batches stacked); every verdict and message is the one the slice by
    # slice walk (kept for layouts without such a view) gives.
    from portkern.harness import compare
    from portkern.harness.references import call_reference

    k = _batched_kernel(name, gap)
    lib = load_library(Path(__file__).parents[1] / "libraries" / "blas")
    case = make_case(k, {"n": 37, "batch_count": 4}, "float32", 3)
    ref = call_reference(lib.reference(k), case.reference_inputs(), "float32")
    x, y = case.arrays["x"], case.arrays["y"]
    assert x.rows(x.buffers).shape == (4, 37)
    (bx, sx), (by, sy) = x.used_slices()[2], y.used_slices()[1]
    # a gap between batches where there is one, else the guard zone after the last batch
    gi, gs = (by, sy) if gap else y.used_slices()[-1]
    spoilt = {"honest": lambda a: None,
              "gap or guard": lambda a: a["y"][gi].__setitem__(gs.stop, 7.0),
              "input": lambda a: a["x"][bx].__setitem__(sx.start + 5, a["x"][bx][sx.start + 5] + 1),
              "unwritten": lambda a: a["y"][by].__setitem__(sy.start + 2, case.arrays["y"].buffers[by][sy.start + 2])}
    verdicts = {}
    for what, spoil in spoilt.items():
        after = _reference_run(case, ref)
        spoil(after)
        fast = check_run(k, case, after, ref)
        with monkeypatch.context() as m:
            m.setattr(compare, "_changes", lambda arg, bufs: None)
            walked = check_run(k, case, after, ref)
        assert (fast.passed, fast.failure) == (walked.passed, walked.failure), what
        verdicts[what] = fast
    assert verdicts["honest"].passed, verdicts["honest"].detail
    assert verdicts["gap or guard"].failure == "out-of-bounds-write"
    assert f"at element {gs.stop}" in verdicts["gap or guard"].detail
    assert verdicts["input"].failure == "input-mutated" and "first at 5" in verdicts["input"].detail
    # y is read and written: an element left as it was is a wrong value
    assert verdicts["unwritten"].failure == "mismatch"
