"""Adaptive timing's stopping rule on synthetic timing sequences, and the timing checks made by the
caller from the raw reply of a timing worker (no GPU needed for either)."""

from __future__ import annotations

import importlib
import statistics
from pathlib import Path

import numpy as np
import pytest

from portkern.errors import ConfigError
from portkern.harness.inputs import make_case, to_storage
from portkern.harness.references import call_reference
from portkern.harness.timing import TrialPlan, adaptive_trials, median_interval, relative_half_width
from portkern.library import load_library
from portkern.model import CompileOptions, CompileResult
from portkern.targets import get_target

hbench = importlib.import_module("portkern.harness.bench")
ADVERSARIAL = Path(__file__).parent / "adversarial"


def _source(values):
    """run_batch over a fixed sequence, recording the batch sizes asked for."""
    it = iter(values)
    asked: list[int] = []

    def run_batch(count: int) -> list[float]:
        asked.append(count)
        return [next(it) for _ in range(count)]

    return run_batch, asked


def test_median_interval_is_the_binomial_order_statistic_pair():
    assert median_interval([1.0] * 5) is None                      # 5 trials cannot give 95%
    assert median_interval([5, 1, 4, 2, 3, 6]) == (1, 6)           # n = 6: the extremes
    xs = list(range(1, 101))
    lo, hi = median_interval(xs)
    # n = 100: the 95% interval of the median is x_(40) .. x_(61)
    assert (lo, hi) == (40, 61)
    # Its coverage, checked by simulation on a skewed distribution, is at least the confidence.
    rng = np.random.default_rng(0)
    true_median = np.log(2.0)
    hits = 0
    for _ in range(2000):
        sample = list(rng.exponential(1.0, 30))
        a, b = median_interval(sample)
        hits += a <= true_median <= b
    assert hits / 2000 >= 0.94


def test_steady_timings_stop_at_the_minimum():
    rng = np.random.default_rng(1)
    run_batch, asked = _source(list(1.0 + 0.001 * rng.standard_normal(1000)))
    times = adaptive_trials(run_batch, TrialPlan(min_trials=10, max_trials=200, fraction=0.02))
    assert len(times) == 10 and asked == [10]
    assert relative_half_width(times) <= 0.02


def test_noisy_timings_run_until_the_interval_is_narrow_enough():
    rng = np.random.default_rng(2)
    values = list(1.0 + 0.05 * rng.standard_normal(5000))        # 5% spread: about 50 trials needed for 2%
    run_batch, asked = _source(values)
    times = adaptive_trials(run_batch, TrialPlan(min_trials=10, max_trials=400, fraction=0.02))
    assert 10 < len(times) < 400 and relative_half_width(times) <= 0.02
    assert relative_half_width(times[:asked[0]]) > 0.02           # the first batch was not enough
    assert times == values[:len(times)]                          # trials kept in order, none dropped
    assert sum(asked) == len(times)


def test_the_cap_ends_timings_that_never_settle():
    rng = np.random.default_rng(3)
    run_batch, asked = _source(list(rng.uniform(0.5, 1.5, 1000)))
    times = adaptive_trials(run_batch, TrialPlan(min_trials=10, max_trials=60, fraction=0.001))
    assert len(times) == 60 and relative_half_width(times) > 0.001


def test_a_zero_fraction_is_a_fixed_trial_count_in_one_batch():
    run_batch, asked = _source([1.0] * 100)
    assert len(adaptive_trials(run_batch, TrialPlan(min_trials=10, max_trials=50, fraction=0.0))) == 50
    assert asked == [50]


def test_a_few_outliers_do_not_keep_timing_going():
    values = [1.0] * 200
    for i in (3, 11, 17):
        values[i] = 40.0                                           # a clock change, an interrupt
    run_batch, _ = _source(values)
    times = adaptive_trials(run_batch, TrialPlan(min_trials=20, max_trials=200, fraction=0.02))
    assert len(times) == 20 and statistics.median(times) == 1.0


def test_a_batch_that_returns_the_wrong_number_of_times_is_an_error():
    with pytest.raises(ValueError, match="returned 1"):
        adaptive_trials(lambda count: [1.0], TrialPlan(min_trials=5, max_trials=10, fraction=0.02))


def test_the_plan_comes_from_the_configuration_and_bad_values_are_refused(monkeypatch):
    plan = hbench.timing_plan()
    assert (plan.min_trials, plan.max_trials, plan.fraction) == (10, 200, 0.02)
    assert hbench.timing_plan(trials=30, ci_fraction=0.0).max_trials == 30
    monkeypatch.setenv("PORTKERN_BENCH_CI_FRACTION", "1.5")
    with pytest.raises(ConfigError, match="ci_fraction"):
        hbench.timing_plan()


# --------------------------------------------------------------------------- checks made by the caller


@pytest.fixture(scope="module")
def adv():
    return load_library(ADVERSARIAL)


def _job(adv, rotate=3):
    compiled = CompileResult(backend="cuda", target="h200", arch="sm_90", code_type="cubin", binary=b"",
                             entry_symbols=[], entry_map={}, resources={}, log="", compiler="",
                             options=CompileOptions(), cache_key="")
    return hbench.BenchJob("cuda", adv.manifest_path, "honest_axpby", compiled, get_target("h200"), {"n": 4099},
                           "float32", {}, pool_seeds=[11, 12, 13, 14], check_seed=15,
                           plan=TrialPlan(min_trials=10, max_trials=50, fraction=0.02), rotate=rotate)


def _honest_run(adv, job, seed, *, spoil=False):
    """What a correct kernel leaves for the inputs of ``seed`` (``spoil``: one output element wrong)."""
    kernel = adv.kernel(job.kernel)
    case = make_case(kernel, job.sizes, job.dtype, seed, reference_view=False)
    expected = call_reference(adv.reference(kernel), case.reference_inputs(), job.dtype)
    after = {n: [b.copy() for b in bufs] for n, bufs in case.host_buffers().items()}
    arg = case.arrays["z"]
    for i, s in arg.used_slices():
        after["z"][i][s] = to_storage(np.asarray(expected["z"]).reshape(-1), arg.dtype)
        if spoil:
            after["z"][i][s][7] += 1.0
    return {"seed": seed, "buffers": after}


def _reply(adv, job, **spoil):
    timed = [_honest_run(adv, job, s, spoil=spoil.get("timed", False) and s == 13) for s in (11, 12, 13)]
    return {"device": "NVIDIA H200", "times_ms": [0.1] * 12, "timed": timed, "copy_gbs": 3000.0,
            "fresh": _honest_run(adv, job, 15, spoil=spoil.get("fresh", False))}


def test_an_honest_reply_passes_the_checks_made_here(adv):
    job = _job(adv)
    result = hbench.judge_bench(adv.kernel("honest_axpby"), adv.reference(adv.kernel("honest_axpby")), job,
                                _reply(adv, job))
    assert hbench.bench_passed(result), result.flags
    assert result.trials == 12 and result.median_ms == pytest.approx(0.1) and result.device == "NVIDIA H200"


@pytest.mark.parametrize("where, flag", [("timed", "timed-output-wrong"), ("fresh", "changed-input-wrong")])
def test_a_wrong_output_in_a_reply_fails_the_timing(adv, where, flag):
    job = _job(adv)
    kernel = adv.kernel("honest_axpby")
    result = hbench.judge_bench(kernel, adv.reference(kernel), job, _reply(adv, job, **{where: True}))
    assert not hbench.bench_passed(result) and result.flags[0].startswith(flag), result.flags


def test_a_reply_on_inputs_the_worker_was_not_given_is_refused(adv):
    job = _job(adv)
    kernel = adv.kernel("honest_axpby")
    reply = _reply(adv, job)
    reply["timed"][0] = _honest_run(adv, job, 99)          # correct for seed 99, which nobody asked for
    result = hbench.judge_bench(kernel, adv.reference(kernel), job, reply)
    assert not hbench.bench_passed(result) and "not given" in result.flags[0]


def test_a_malformed_or_short_reply_is_a_crash(adv):
    job = _job(adv)
    kernel = adv.kernel("honest_axpby")
    reference = adv.reference(kernel)
    assert hbench.judge_bench(kernel, reference, job, {"times_ms": "fast"}).flags[0].startswith("crash")
    reply = _reply(adv, job)
    reply["timed"] = reply["timed"][:1]
    assert "every timed buffer" in hbench.judge_bench(kernel, reference, job, reply).flags[0]


def test_a_timing_that_did_not_settle_is_labelled_noisy_but_not_failed(adv):
    job = _job(adv)
    kernel = adv.kernel("honest_axpby")
    reply = _reply(adv, job)
    reply["times_ms"] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2]
    result = hbench.judge_bench(kernel, adv.reference(kernel), job, reply)
    assert any(f.startswith("noisy:") for f in result.flags) and hbench.bench_passed(result)


def _digested(run, key, *, mutate=""):
    """``run`` as a worker with a digest key reports it: read-only buffers as keyed digests
    (``mutate``: that input changed in one element before the digest)."""
    from portkern.harness.digest import keyed_digest

    buffers = dict(run["buffers"])
    digests = {}
    for name in ("x", "y"):
        bufs = [b.copy() for b in buffers.pop(name)]
        if name == mutate:
            bufs[0].view(np.uint32)[len(bufs[0]) // 2] ^= 1
        digests[name] = [keyed_digest(b, key) for b in bufs]
    return {"seed": run["seed"], "buffers": buffers, "digests": digests}


def test_read_only_buffers_may_come_back_as_keyed_digests(adv):
    job = _job(adv)
    job.digest_key = 0x5EED_1234_ABCD_0001
    kernel = adv.kernel("honest_axpby")
    assert [a.name for a in kernel.args if a.role == "input"] == ["x", "y"]
    reply = _reply(adv, job)
    reply["timed"] = [_digested(r, job.digest_key) for r in reply["timed"]]
    reply["fresh"] = _digested(reply["fresh"], job.digest_key)
    assert all(set(r["buffers"]) == {"z"} for r in reply["timed"])
    result = hbench.judge_bench(kernel, adv.reference(kernel), job, reply)
    assert hbench.bench_passed(result), result.flags


@pytest.mark.parametrize("where, flag", [("timed", "timed-output-wrong"), ("fresh", "changed-input-wrong")])
def test_a_changed_input_shows_in_its_digest(adv, where, flag):
    job = _job(adv)
    job.digest_key = 977
    kernel = adv.kernel("honest_axpby")
    reply = _reply(adv, job)
    reply["timed"] = [_digested(r, job.digest_key, mutate="y" if where == "timed" and i == 1 else "")
                      for i, r in enumerate(reply["timed"])]
    reply["fresh"] = _digested(reply["fresh"], job.digest_key, mutate="x" if where == "fresh" else "")
    result = hbench.judge_bench(kernel, adv.reference(kernel), job, reply)
    assert not hbench.bench_passed(result)
    assert result.flags[0].startswith(f"{flag}: input-mutated") and "digest" in result.flags[0], result.flags


def test_a_digest_under_another_key_or_a_missing_one_fails(adv):
    job = _job(adv)
    job.digest_key = 977
    kernel = adv.kernel("honest_axpby")
    reply = _reply(adv, job)
    reply["timed"] = [_digested(r, 978) for r in reply["timed"]]       # not the job's key
    reply["fresh"] = _digested(reply["fresh"], job.digest_key)
    assert "input-mutated" in hbench.judge_bench(kernel, adv.reference(kernel), job, reply).flags[0]
    reply = _reply(adv, job)
    reply["timed"] = [_digested(r, job.digest_key) for r in reply["timed"]]
    reply["fresh"] = _digested(reply["fresh"], job.digest_key)
    del reply["fresh"]["digests"]["y"]
    flags = hbench.judge_bench(kernel, adv.reference(kernel), job, reply).flags
    assert flags[0].startswith("changed-input-wrong: crash") and "digests" in flags[0], flags
    # Whole buffers where digests were asked for are a layout error, not a pass.
    reply = _reply(adv, job)
    assert "other arguments" in hbench.judge_bench(kernel, adv.reference(kernel), job, reply).flags[0]


class FakeTimingRunner:
    """Stands in for a device runner (no GPU here): returns honest raw replies, records each job."""

    times_on_device = True

    def __init__(self, adv):
        self.adv = adv
        self.jobs: list = []

    def run_job(self, fn, job, *, compiled, timeout_s, label):
        assert fn is hbench.run_bench_job
        self.jobs.append(job)
        runs = [_honest_run(self.adv, job, s) for s in job.pool_seeds[:job.rotate]]
        reply = {"device": "fake", "times_ms": [0.2] * 10, "timed": runs, "copy_gbs": 0.0,
                 "fresh": _honest_run(self.adv, job, job.check_seed)}
        if job.baseline:
            reply["baseline"] = {"name": "cuBLAS axpy (stand-in)", "median_ms": 0.15, "spread_ms": 0.0}
        return reply


def test_the_vendor_baseline_is_measured_once_per_size_and_dtype(adv, monkeypatch):
    runner = FakeTimingRunner(adv)
    monkeypatch.setattr(hbench, "get_runner", lambda name: runner)
    hbench.clear_baselines()
    kernel = adv.kernel("honest_axpby")
    job = _job(adv)
    results = [hbench.bench(adv, kernel, job.compiled, job.target, runner="cuda", sizes={"n": n}, dtype="float32")
               for n in (4099, 4099, 4099, 8191)]
    assert [j.baseline for j in runner.jobs] == [True, False, False, True]
    assert all(r.baseline_median_ms == 0.15 and r.baseline_name.startswith("cuBLAS") for r in results)
    assert all(hbench.bench_passed(r) for r in results)
    # Fresh input seeds for every candidate's timing: never the same pool twice.
    seeds = [tuple(j.pool_seeds) for j in runner.jobs]
    assert len(set(seeds)) == len(seeds)
    hbench.clear_baselines()


def test_prefetch_computes_in_the_background_and_reraises_failures():
    import threading

    from portkern.harness.prefetch import Prefetch

    started = threading.Event()
    release = threading.Event()
    threads: list[str] = []

    def slow() -> int:
        threads.append(threading.current_thread().name)
        started.set()
        release.wait(10)
        return 1

    def broken() -> int:
        raise ZeroDivisionError("reference failed")

    with Prefetch([("a", slow), ("b", broken), ("c", lambda: 3)]) as pre:
        assert started.wait(10)                      # running while this thread is free
        release.set()
        assert pre.get("a") == 1 and pre.get("c") == 3
        with pytest.raises(ZeroDivisionError, match="reference failed"):
            pre.get("b")
    assert threads and threads[0] != threading.current_thread().name
    late = Prefetch([("x", lambda: 7)])
    late.close()
    assert late.get("x") == 7                        # cancelled or done: the value is still there
