"""Timing: device events after warm-up, L2 emptied between trials, rotating input buffers.

Every timed call runs on inputs copied in just before it (a pool of seeded sets rotating through
the work buffers, outputs poisoned), outside the timed region. After timing, the worker
synchronises only its own stream and returns what the last timed call in each work buffer left,
then runs once more on fresh inputs. The caller rebuilds those inputs from their seeds and checks
every run here, never in the worker: a kernel that caches, defers work to another stream or skips
calls fails here even when its first validation passed. The cache is emptied before each trial by
reading twice its size where the vendor's driver has the sweep kernel (``DriverApi.L2_SWEEP``), so it
holds clean lines; a write there (the fallback) would leave lines the timed call must write back.
Trials go on until the median's 95% interval is within ``bench.ci_fraction`` of it, or
``bench.max_trials`` (``portkern.harness.timing``).
Without a device, the result is the performance model's prediction, labelled method="estimate".
"""

from __future__ import annotations

import dataclasses
import functools
import os
import secrets
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from portkern.errors import ConfigError, KernelTimeoutError, WorkerCrashError
from portkern.harness import roofline
from portkern.harness.baselines import baseline_family, iqr
from portkern.harness.compare import check_run
from portkern.harness.digest import device_digest, digested_args, keyed_digest
from portkern.harness.inputs import make_case
from portkern.harness.ondevice import check_namespace, holding_device
from portkern.harness.prefetch import OnDemand, Prefetch
from portkern.harness.references import call_reference
from portkern.harness.runners.base import get_runner
from portkern.harness.timing import TrialPlan, relative_half_width
from portkern.harness.validate import fresh_seed
from portkern.library import KernelSpec, LibrarySpec, load_library
from portkern.model import BenchResult, CompileResult, ResourceReport, Target

# Flags that make a timing a failure rather than a result.
FAILING_FLAGS = (roofline.ABOVE_ROOFLINE, "timed-output-wrong", "changed-input-wrong", "crash", "timeout")
COPY_PROBE_BYTES = 1 << 30


def target_for_device(device_name: str) -> Target | None:
    """The registry target whose model name appears in a device's name ("NVIDIA H200" -> h200)."""
    from portkern.targets import load_targets

    name = device_name.lower().replace(" ", "")
    for target in load_targets().values():
        if target.name.lower() in name:
            return target
    return None


def bench_passed(result: BenchResult) -> bool:
    return not any(f.split(":")[0] in FAILING_FLAGS for f in result.flags)


@dataclass
class BenchJob:
    """What a timing worker gets: the binary, the seeds of its input sets, the timing plan."""

    runner: str
    library_root: str
    kernel: str
    compiled: CompileResult
    target: Target
    sizes: dict[str, int]
    dtype: str
    params: dict[str, int] = field(default_factory=dict)
    pool_seeds: list[int] = field(default_factory=list)   # one input set per seed, rotated through the trials
    check_seed: int = 0                                    # a last run on fresh inputs, after the timing
    plan: TrialPlan = field(default_factory=TrialPlan)
    warmup: int = 5
    rotate: int = 3
    baseline: bool = True
    measure_copy: bool = True
    on_device: bool = False        # build the input pool on the device (CuPy), see portkern.harness.ondevice
    source_root: str = ""          # where a manifest describing an external tree found it ("" for libraries/)
    launches: list = field(default_factory=list)   # the launches of the spec timed (a candidate's may differ from the manifest's)
    args: list = field(default_factory=list)       # the arguments of the spec timed (a candidate may size them its way)
    digest_key: int = 0            # non-zero (device inputs only): read-only buffers come back as keyed digests
    l2_flush: str = "auto"         # "auto": read the cache empty where the runner can, else write; "write"


def _case(kernel: KernelSpec, job: BenchJob, seed: int, xp: Any = np):
    # Float64 reference views are left out: most pool entries are never checked.
    return make_case(kernel, job.sizes, job.dtype, seed, params=job.params, reference_view=False, xp=xp)


@functools.lru_cache(maxsize=8)
def _library(root: str, stamp: float, source_root: str) -> LibrarySpec:
    return load_library(root, source_root=source_root or None)


def _worker_library(root: str, source_root: str = "") -> LibrarySpec:
    # A worker that stays times many candidates of one library: parse its manifest once per change. The
    # worker's environment is not the caller's (ROCBLAS_SRC and the like do not reach it): an external
    # tree comes as the folder the caller resolved.
    try:
        stamp = os.stat(root).st_mtime if os.path.isfile(root) else os.stat(Path(root) / "library.yaml").st_mtime
    except OSError:
        stamp = 0.0
    return _library(root, stamp, source_root)


def run_bench_job(job: BenchJob) -> dict[str, Any]:
    """Top-level (picklable) worker entry: time one kernel at one size on the device.

    Returns raw facts only: the trial times, and the buffers of every checked run with the seed of its
    inputs ({"seed": s, "buffers": {...}}, read-only arguments as {"digests": {...}} under a digest
    key). Every check is made by the caller (``judge_bench``).
    """
    kernel = _worker_library(job.library_root, job.source_root).kernel(job.kernel)
    if job.launches or job.args:
        kernel = dataclasses.replace(kernel, launches=list(job.launches or kernel.launches),
                                     args=list(job.args or kernel.args))
    clock = _Phases()
    runner = get_runner(job.runner)
    session = runner.open_session(job.compiled, job.target)
    xp = np
    if job.on_device:
        import cupy as xp  # the caller checked that CuPy sees the GPU
    flush_bytes = 2 * job.target.last_level_cache_bytes
    out: dict[str, Any] = {"device": session.device, "phases": clock.seconds}
    clock.lap("open")
    try:
        # Pool: one input set per seed (outputs poisoned), copied into the work slots before each
        # trial. Uploads only read the host buffers, so the cases' own buffers go up uncopied.
        pool = []
        for seed in job.pool_seeds:
            case = _case(kernel, job, seed, xp)
            pool.append((case, session.upload(case, case.host_buffers())))
        work = [(pool[0][0], session.upload(pool[0][0], pool[0][0].host_buffers()))
                for _ in range(max(job.rotate, 1))]
        clock.lap("inputs")
        try:
            times, last_content = session.time_trials(work, pool, trials=job.plan.max_trials, warmup=job.warmup,
                                                      flush_bytes=flush_bytes, plan=job.plan, flush=job.l2_flush)
            out["times_ms"] = times
            out["l2_flush"] = str(getattr(session, "flushed", ""))
            clock.lap("trials")
            # Each work slot's last timed call ran on a known pool entry: the caller checks against it.
            out["timed"] = [_report(session, job, pool[p][0], dev, job.pool_seeds[p])
                            for (_, dev), p in zip(work, last_content) if p >= 0]
            clock.lap("download")
        finally:
            for _, dev in pool + work:
                session.free(dev)
        case = _case(kernel, job, job.check_seed, xp)
        dev = session.upload(case, case.fresh_buffers())
        try:
            session.launch_all(case, dev)
            session.sync()
            out["fresh"] = _report(session, job, case, dev, job.check_seed)
        finally:
            session.free(dev)
        del pool, work, case
        if xp is not np:
            xp.get_default_memory_pool().free_all_blocks()
        clock.lap("fresh run")
        out["copy_gbs"] = session.copy_bandwidth_gbs(COPY_PROBE_BYTES) if job.measure_copy else 0.0
        clock.lap("copy probe")
        if job.baseline:
            try:
                base = runner.baseline(baseline_family(kernel.family, kernel.name), job.sizes, job.dtype,
                                       trials=job.plan.max_trials, warmup=job.warmup, flush_bytes=flush_bytes)
            except Exception as exc:  # a vendor routine missing for this dtype is a note, not a failure
                out["baseline"] = {"error": f"{type(exc).__name__}: {exc}"[:200]}
            else:
                out["baseline"] = None if base is None else {"name": base.name, "median_ms": base.median_ms,
                                                            "spread_ms": base.spread_ms}
            clock.lap("vendor baseline")
        return out
    finally:
        session.close()


def _report(session: Any, job: BenchJob, case: Any, dev: Any, seed: int) -> dict[str, Any]:
    """What one checked run left: every buffer the kernel may write, whole; with a digest key,
    read-only arguments as keyed digests computed on the device (``portkern.harness.digest``)."""
    digested = digested_args(case) if job.digest_key else []
    run: dict[str, Any] = {"seed": seed, "buffers": session.download(case, dev, skip=digested)}
    if digested:
        session.sync()
        run["digests"] = {name: [device_digest(ptr, host.nbytes, job.digest_key)
                                 for host, ptr in zip(case.arrays[name].buffers, dev.pointers[name])]
                          for name in digested}
    return run


class _Phases:
    """Seconds spent in each phase of a bench job, for ``benchmarks/bench_throughput.py``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._last
        self._last = now


# --------------------------------------------------------------------------- caller side


def expected_runs(kernel: KernelSpec, reference: Any, job: BenchJob, xp: Any = np) -> Prefetch | OnDemand:
    """The inputs (rebuilt here from the seeds) and float64 references of every run the worker may
    report: with numpy, computed in the background while it runs (the check run first, then the
    pool); with CuPy, on the GPU when the check asks for them (after the timing)."""
    def one(seed: int) -> tuple[Any, dict]:
        case = _case(kernel, job, seed, xp)
        return case, call_reference(reference, case.reference_inputs(), job.dtype, xp=xp)

    seeds = list(dict.fromkeys([job.check_seed, *job.pool_seeds]))
    items = [(seed, functools.partial(one, seed)) for seed in seeds]
    return Prefetch(items) if xp is np else OnDemand(items)


def _check(kernel: KernelSpec, expected: Prefetch, job: BenchJob, runs: list[Any], flag: str) -> list[str]:
    """Check each run the worker reported against inputs rebuilt here from its seed."""
    from portkern.harness.validate import _buffers_from_reply

    for run in runs:
        seed = run.get("seed") if isinstance(run, dict) else None
        if not isinstance(seed, int) or (seed not in job.pool_seeds and seed != job.check_seed):
            return [f"{flag}: crash (the worker reported a run on inputs it was not given)"]
        case, want = expected.get(seed)
        digested = digested_args(case) if job.digest_key else []
        after = _buffers_from_reply(case, run, digested=digested)
        if isinstance(after, str):
            return [f"{flag}: crash ({after})"]
        changed = _digests_differ(case, run, digested, job.digest_key)
        if changed:
            return [f"{flag}: {changed} (seed {seed})"[:300]]
        xp = case.namespace
        if xp is not np:
            after = {name: _to_device(xp, bufs) for name, bufs in after.items()}
        # A read-only argument whose digest matched holds what it was given.
        after.update({name: list(case.arrays[name].buffers) for name in digested})
        res = check_run(kernel, case, after, want)
        if not res.passed:
            return [f"{flag}: {res.failure} (seed {seed}) {res.detail}"[:300]]
    return []


def _to_device(xp: Any, buffers: list[np.ndarray]) -> list[Any]:
    """Host buffers copied to the device: many of one shape (pointer batches) in one copy."""
    if len(buffers) > 1 and all(b.shape == buffers[0].shape and b.dtype == buffers[0].dtype for b in buffers):
        stacked = xp.asarray(np.stack(buffers))
        return [stacked[i] for i in range(len(buffers))]
    return [xp.asarray(b) for b in buffers]


def _digests_differ(case: Any, run: dict, digested: list[str], key: int) -> str:
    """'' when every read-only argument's reported digest is that of its inputs rebuilt here, else why
    not (an input-mutated failure: the worker's reply says only that the buffer changed)."""
    if not digested:
        return ""
    got = run.get("digests")
    if not isinstance(got, dict) or set(got) != set(digested):
        return "crash (the worker's reply lacks the digests of the read-only arguments)"
    for name in digested:
        mine = case.arrays[name].buffers
        theirs = got[name]
        if not isinstance(theirs, list) or len(theirs) != len(mine):
            return f"crash (the worker returned {len(theirs) if isinstance(theirs, list) else 'no'} digests of {name!r})"
        for i, (before, digest) in enumerate(zip(mine, theirs)):
            if digest != keyed_digest(before, key):
                where = f" (batch {i})" if len(mine) > 1 else ""
                return (f"input-mutated: input '{name}'{where} or its guard zone changed: its digest after the "
                        "run differs from that of the inputs it was given")
    return ""


def judge_bench(kernel: KernelSpec, reference: Any, job: BenchJob, reply: Any,
                expected: Prefetch | OnDemand | None = None) -> BenchResult:
    """The BenchResult of a timing worker's raw reply: the times, and every check made here
    (``expected``: from ``expected_runs``, on the host or the GPU)."""
    if expected is None:
        with expected_runs(kernel, reference, job) as mine:
            return judge_bench(kernel, reference, job, reply, mine)
    bad = BenchResult(kernel=kernel.name, sizes=dict(job.sizes), dtype=job.dtype, method="device-events",
                      device=job.target.display_name, median_ms=0.0, spread_ms=0.0)
    times = reply.get("times_ms") if isinstance(reply, dict) else None
    if not (isinstance(times, list) and times and all(isinstance(t, (int, float)) for t in times)
            and isinstance(reply.get("timed"), list) and isinstance(reply.get("fresh"), dict)):
        bad.flags = ["crash: the timing worker's reply is malformed"]
        return bad
    times = [float(t) for t in times]
    if len(reply["timed"]) != min(max(job.rotate, 1), len(times)):
        bad.flags = ["crash: the timing worker did not report every timed buffer"]
        return bad
    flags = _check(kernel, expected, job, reply["timed"], "timed-output-wrong")
    flags += _check(kernel, expected, job, [reply["fresh"]], "changed-input-wrong")
    width = relative_half_width(times, job.plan.confidence)
    if job.plan.fraction > 0 and width > job.plan.fraction:
        flags.append(f"noisy: the median's {job.plan.confidence:.0%} interval is within ±{width:.1%} after "
                     f"{len(times)} trials (wanted ±{job.plan.fraction:.1%})")
    copy_gbs = float(reply.get("copy_gbs") or 0.0)
    result = BenchResult(kernel=kernel.name, sizes=dict(job.sizes), dtype=job.dtype, method="device-events",
                         device=str(reply.get("device") or job.target.display_name),
                         median_ms=statistics.median(times), spread_ms=iqr(times), trials=len(times), flags=flags,
                         measured_copy_gbs=copy_gbs, l2_flush=str(reply.get("l2_flush") or "")[:16])
    roofline.fill_figures(result, roofline.work_of(kernel, job.sizes, job.dtype, job.params), job.target, copy_gbs)
    return result


# The vendor baseline of a (runner, device, family, sizes, dtype), measured once per process (a run).
_baselines: dict[tuple, tuple[str, float]] = {}
_baselines_lock = threading.Lock()


def _baseline_key(runner: str, target: Target, kernel: KernelSpec, sizes: dict[str, int], dtype: str) -> tuple:
    return runner, target.name, baseline_family(kernel.family, kernel.name), tuple(sorted(sizes.items())), dtype


def _note_baseline(key: tuple, reply: Any) -> None:
    base = reply.get("baseline") if isinstance(reply, dict) else None
    if isinstance(base, dict) and "error" in base:
        entry = (f"unavailable ({base['error']})"[:120], 0.0)
    elif isinstance(base, dict) and isinstance(base.get("median_ms"), (int, float)):
        entry = (str(base.get("name", ""))[:120], float(base["median_ms"]))
    else:
        entry = ("", 0.0)
    with _baselines_lock:
        _baselines[key] = entry


def clear_baselines() -> None:
    """Forget the measured vendor baselines (a new run on possibly another device state)."""
    with _baselines_lock:
        _baselines.clear()


L2_FLUSHES = ("auto", "write")


def l2_flush_mode() -> str:
    """``bench.l2_flush`` from the configuration: "auto" (the cache read empty before each trial where the
    runner has a sweep kernel, written otherwise) or "write" (always written, as before 2026-12-07)."""
    from portkern.config import load_config

    mode = str(load_config()["bench"].get("l2_flush", "auto")).strip().lower()
    if mode not in L2_FLUSHES:
        raise ConfigError(f"bench.l2_flush must be one of {', '.join(L2_FLUSHES)}, got {mode!r}",
                          hint="auto reads the cache empty where the runner can; write fills a buffer instead")
    return mode


def timing_plan(trials: int | None = None, ci_fraction: float | None = None,
                min_trials: int | None = None) -> TrialPlan:
    """The adaptive timing plan: bench.min_trials, bench.max_trials and bench.ci_fraction from the
    configuration, each overridden by an argument given here (``trials`` is the cap)."""
    from portkern.config import load_config

    cfg = load_config()["bench"]
    fraction = float(cfg["ci_fraction"] if ci_fraction is None else ci_fraction)
    if fraction < 0 or fraction >= 1:
        raise ConfigError(f"bench.ci_fraction must be in [0, 1), got {fraction}",
                          hint="0.02 stops when the median is known within 2%; 0 always runs max_trials")
    cap = int(cfg["max_trials"] if trials is None else trials)
    least = int(cfg["min_trials"] if min_trials is None else min_trials)
    if cap < 1 or least < 1:
        raise ConfigError(f"bench.max_trials and bench.min_trials must be at least 1, got {cap} and {least}")
    return TrialPlan(min_trials=least, max_trials=cap, fraction=fraction)


def estimate(kernel: KernelSpec, sizes: dict[str, int], dtype: str, target: Target,
             resources: ResourceReport | None = None, params: dict[str, int] | None = None,
             source: str = "") -> BenchResult:
    """No device: the performance model's prediction (``portkern.perfmodel``), labelled method="estimate"."""
    from portkern.perfmodel.predict import predicted_result

    return predicted_result(kernel, sizes, dtype, target, resources, params, source)


def bench(library: LibrarySpec, kernel: KernelSpec, compiled: CompileResult, target: Target, *,
          runner: str, sizes: dict[str, int], dtype: str, params: dict[str, int] | None = None,
          trials: int | None = None, warmup: int = 5, rotate: int = 3, baseline: bool = True,
          measure_copy: bool = True, timeout_s: float = 600.0, ci_fraction: float | None = None,
          min_trials: int | None = None) -> BenchResult:
    """Time a compiled kernel on ``runner`` (device runners, in a worker) or estimate it (emulator).

    Trials run until the median's interval is within ``ci_fraction`` (or up to ``trials``); the
    configuration gives what is not passed. The vendor baseline is measured once per size and dtype
    in this process and reused for later candidates.
    """
    runs_on = get_runner(runner)
    if not runs_on.times_on_device:
        resources = None
        if compiled.resources:
            first_entry = compiled.entry_map.get(compiled.options.entries[0]) if compiled.options.entries else None
            resources = compiled.resources.get(first_entry or "", next(iter(compiled.resources.values())))
        return estimate(kernel, sizes, dtype, target, resources, params)
    key = _baseline_key(runner, target, kernel, sizes, dtype)
    with _baselines_lock:
        known = _baselines.get(key) if baseline else None
    xp = check_namespace(runs_on)
    job = BenchJob(runner, library.manifest_path, kernel.name, compiled, target, dict(sizes), dtype, dict(params or {}),
                   pool_seeds=[fresh_seed() for _ in range(max(rotate, 1) + 1)], check_seed=fresh_seed(),
                   plan=timing_plan(trials, ci_fraction, min_trials), warmup=warmup, rotate=rotate,
                   baseline=baseline and known is None, measure_copy=measure_copy, on_device=xp is not np,
                   source_root=library.root if library.manifest_dir else "",
                   launches=list(kernel.launches), args=list(kernel.args),
                   digest_key=secrets.randbits(64) | 1 if xp is not np else 0, l2_flush=l2_flush_mode())
    reference = library.reference(kernel)
    called = time.perf_counter()
    with expected_runs(kernel, reference, job, xp) as expected:
        try:
            reply = runs_on.run_job(run_bench_job, job, compiled=compiled, timeout_s=timeout_s,
                                    label=f"bench {kernel.name} on {runner}")
            replied = time.perf_counter()
        except (KernelTimeoutError, WorkerCrashError) as exc:
            return BenchResult(kernel=kernel.name, sizes=dict(sizes), dtype=dtype, method="device-events",
                               device=target.display_name, median_ms=0.0, spread_ms=0.0,
                               flags=[f"{exc.cause}: {str(exc)[-300:]}"])
        with holding_device(runner, xp):
            leased = time.perf_counter()
            result = judge_bench(kernel, reference, job, reply, expected)
            references = getattr(expected, "seconds", 0.0)
            expected.close()
    phases = reply.get("phases") if isinstance(reply, dict) and isinstance(reply.get("phases"), dict) else {}
    result.phases = {str(k): float(v) for k, v in phases.items() if isinstance(v, (int, float))}
    # the call's wall time beyond the worker's own phases: starting the job, the reply crossing the pipe
    result.phases["worker call, reply"] = max(0.0, replied - called - sum(result.phases.values()))
    # after the reply: waiting for the GPU (other jobs hold it), the inputs and float64 references
    # rebuilt on it (on the GPU only: on the host they were computed while the worker ran), the checks
    result.phases["wait for the GPU here"] = leased - replied
    result.phases["references here"] = references
    result.phases["checks here"] = max(0.0, time.perf_counter() - leased - references)
    if job.baseline:
        _note_baseline(key, reply)
    if baseline:
        with _baselines_lock:
            name, median_ms = _baselines.get(key, ("", 0.0))
        result.baseline_name, result.baseline_median_ms = name, median_ms
    return result
