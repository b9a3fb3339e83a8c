"""The harness on a real NVIDIA GPU: adversarial kernels rejected, timing checked. Skipped without one."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from portkern.harness import bench, bench_passed, build, validate_compiled
from portkern.harness.bench import target_for_device
from portkern.harness.runners.base import get_runner
from portkern.library import load_library

ADVERSARIAL = Path(__file__).parent / "adversarial"
# Kernels whose cheat only shows once they are called repeatedly, as timing does.
TIMING_CHEATS = ("deferred_work", "cache_results", "skip_when_timed", "mutate_when_timed")


def _gpu_reason() -> str:
    if importlib.util.find_spec("portkern.worker") is None:
        return "portkern.worker is not present"
    avail = get_runner("cuda").available()
    if not avail.ok:
        return avail.reason
    if target_for_device(avail.devices[0]) is None:
        return f"no target in the registry matches {avail.devices[0]}"
    return ""


pytestmark = [pytest.mark.gpu, pytest.mark.skipif(bool(_gpu_reason()), reason=_gpu_reason() or "GPU present")]


@pytest.fixture(scope="module")
def adv():
    return load_library(ADVERSARIAL)


@pytest.fixture(scope="module")
def target():
    return target_for_device(get_runner("cuda").available().devices[0])


def _bench(adv, target, name):
    k = adv.kernel(name)
    compiled = build(adv, k, target, runner="cuda", dtypes=["float32"])
    return bench(adv, k, compiled, target, runner="cuda", sizes=k.sizes_bench[0], dtype="float32", trials=30,
                 warmup=3, baseline=False, measure_copy=True, ci_fraction=0.0)


def test_honest_kernel_validates_and_times_on_the_gpu(adv, target):
    k = adv.kernel("honest_axpby")
    compiled = build(adv, k, target, runner="cuda")
    res = validate_compiled(adv, k, compiled, target, runner="cuda")
    assert res.passed, res.detail
    timing = _bench(adv, target, "honest_axpby")
    assert bench_passed(timing), timing.flags
    assert timing.method == "device-events" and timing.trials == 30 and timing.median_ms > 0
    # the driver compiled and ran the cache sweep: the trials were preceded by a read, not a write
    assert timing.l2_flush == "read"
    assert 0 < timing.gbs <= timing.measured_copy_gbs * 1.05
    assert 0 < timing.roofline_fraction <= 1.05


@pytest.mark.parametrize("name", ["mutate_input", "stale_output", "deferred_work", "cache_results", "partial",
                                  "shape_shortcut", "nan_output", "oob_write", "skip_when_timed",
                                  "memo_by_buffer"])
def test_adversarial_kernel_is_rejected_on_the_gpu(adv, target, name):
    k = adv.kernel(name)
    compiled = build(adv, k, target, runner="cuda")
    res = validate_compiled(adv, k, compiled, target, runner="cuda")
    assert not res.passed and res.failure, res.detail


@pytest.mark.parametrize("name", TIMING_CHEATS)
def test_timing_cheats_fail_the_timed_output_checks(adv, target, name):
    timing = _bench(adv, target, name)
    assert not bench_passed(timing)
    assert any(f.startswith(("timed-output-wrong", "changed-input-wrong")) for f in timing.flags), timing.flags


def test_a_time_beating_the_roofline_is_flagged_not_celebrated(adv, target):
    timing = _bench(adv, target, "overclaimed_work")
    assert "above-roofline" in timing.flags and not bench_passed(timing)
    assert timing.gbs > target.peak_bandwidth_gbs


def _worker_pid() -> int:
    from portkern.worker import worker_pool

    return worker_pool().worker_pids().get(("cuda", 0), 0)


def test_one_worker_serves_many_candidates_and_a_faulting_one_replaces_it(adv, target, monkeypatch):
    monkeypatch.delenv("PORTKERN_VALIDATE_PERSISTENT_WORKER", raising=False)
    k = adv.kernel("honest_axpby")
    compiled = build(adv, k, target, runner="cuda")
    assert validate_compiled(adv, k, compiled, target, runner="cuda").passed
    first = _worker_pid()
    assert first and bench_passed(_bench(adv, target, "honest_axpby"))      # timing shares the worker
    assert validate_compiled(adv, k, compiled, target, runner="cuda").passed
    assert _worker_pid() == first
    # A write far outside any allocation: CUDA_ERROR_ILLEGAL_ADDRESS, which breaks the context for good.
    source = (ADVERSARIAL / "honest.cu").read_text().replace("z[i] = a * x[i] + y[i];",
                                                              "z[i + (1LL << 40)] = a * x[i] + y[i];")
    faulty = build(adv, k, target, runner="cuda", source=source)
    res = validate_compiled(adv, k, faulty, target, runner="cuda")
    assert not res.passed and "ILLEGAL_ADDRESS" in (res.detail + "".join(c.detail for c in res.cases)), res.detail
    assert _worker_pid() != first
    assert validate_compiled(adv, k, compiled, target, runner="cuda").passed     # a fresh, healthy worker


def test_adaptive_timing_stops_once_the_median_is_known(adv, target):
    k = adv.kernel("honest_axpby")
    compiled = build(adv, k, target, runner="cuda", dtypes=["float32"])
    timing = bench(adv, k, compiled, target, runner="cuda", sizes=k.sizes_bench[0], dtype="float32", trials=400,
                   warmup=3, baseline=False, measure_copy=False, ci_fraction=0.02, min_trials=10)
    assert bench_passed(timing), timing.flags
    assert 10 <= timing.trials <= 400
    assert timing.trials < 400 or any(f.startswith("noisy") for f in timing.flags)


@pytest.mark.parametrize("family", ["trsv_lower", "trsv_upper"])
def test_cublas_trsv_baseline_solves_and_times(family):
    # cuBLAS's trsv (CuPy has no API for it) solves the baseline's system on CuPy's handle, and the
    # timed baseline reports its name and a time.
    import cupy as cp
    import numpy as np
    from portkern.backends.cuda.baseline import cupy_op, time_cublas

    from portkern.harness.baselines import triangular_system

    n = 300
    name, op = cupy_op(cp, family, {"n": n, "incx": 1}, "float64")
    assert name == f"cuBLAS trsv {family.split('_')[1]} (CuPy's handle)"
    b = cp.random.default_rng(1).standard_normal(n, dtype=cp.float64).get()
    x = op().get()
    # the same system, drawn by CuPy's generator as the baseline draws it
    a = triangular_system(cp, n, cp.float64, family == "trsv_upper").get()
    np.testing.assert_allclose(a @ x, b, rtol=1e-12, atol=1e-12)
    timing = time_cublas(family, {"n": 2048, "incx": 1}, "float32", trials=5, warmup=2, flush_bytes=1 << 20)
    assert timing is not None and timing.name.startswith("cuBLAS trsv") and timing.median_ms > 0
