"""Timing: device events after warm-up, L2 flushed between trials, rotating input buffers.

Every timed call runs on inputs copied in just before it (a pool of seeded sets rotating through
the work buffers, outputs poisoned), outside the timed region. After timing, the harness
synchronises only its own stream and checks what the last timed call in each work buffer left, then
runs once more on fresh inputs. A kernel that caches, defers work to another stream or skips calls
fails here even when its first validation passed. Without a device, the result is an
estimate from the roofline and the compiler's resource report, labelled method="estimate".
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from portkern.errors import KernelTimeoutError, WorkerCrashError
from portkern.harness import roofline
from portkern.harness.baselines import iqr
from portkern.harness.compare import check_run
from portkern.harness.inputs import make_case
from portkern.harness.runners.base import get_runner
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
    runner: str
    library_root: str
    kernel: str
    compiled: CompileResult
    target: Target
    sizes: dict[str, int]
    dtype: str
    params: dict[str, int] = field(default_factory=dict)
    trials: int = 50
    warmup: int = 5
    rotate: int = 3
    baseline: bool = True
    measure_copy: bool = True


def _check_all(kernel: KernelSpec, reference, cases_after, flag: str) -> list[str]:
    flags = []
    expected_by_case: dict[int, dict] = {}
    for case, after in cases_after:
        # Float64 views of a case's inputs are built only for checked cases, and its reference once.
        if id(case) not in expected_by_case:
            expected_by_case[id(case)] = reference(case.reference_inputs(), case.dtype)
        res = check_run(kernel, case, after, expected_by_case[id(case)])
        if not res.passed:
            flags.append(f"{flag}: {res.failure} (seed {case.seed}) {res.detail}"[:300])
            break
    return flags


def _pool_case(kernel: KernelSpec, job: BenchJob):
    # Float64 reference views are left out: most pool entries are never checked.
    return make_case(kernel, job.sizes, job.dtype, fresh_seed(), params=job.params, reference_view=False)


def run_bench_job(job: BenchJob) -> BenchResult:
    """Top-level (picklable) worker entry: time one kernel at one size on the device."""
    library = load_library(job.library_root)
    kernel = library.kernel(job.kernel)
    reference = library.reference(kernel)
    runner = get_runner(job.runner)
    session = runner.open_session(job.compiled, job.target)
    flush_bytes = 2 * job.target.last_level_cache_bytes
    try:
        # Pool: input sets (outputs poisoned), each from its own fresh seed, copied into the work slots
        # before each trial. Uploads only read the host buffers, so the cases' own buffers go up uncopied.
        pool = []
        for _ in range(max(job.rotate, 1) + 1):
            case = _pool_case(kernel, job)
            pool.append((case, session.upload(case, case.host_buffers())))
        work = [(pool[0][0], session.upload(pool[0][0], pool[0][0].host_buffers()))
                for _ in range(max(job.rotate, 1))]
        flags: list[str] = []
        try:
            times, last_content = session.time_trials(work, pool, trials=job.trials, warmup=job.warmup,
                                                      flush_bytes=flush_bytes)
            # Each work slot's last timed call ran on a known pool entry: its outputs must match that entry.
            checks = [(pool[p][0], session.download(pool[p][0], dev))
                      for (_, dev), p in zip(work, last_content) if p >= 0]
            flags += _check_all(kernel, reference, checks, "timed-output-wrong")
        finally:
            for _, dev in pool + work:
                session.free(dev)
        case = _pool_case(kernel, job)
        flags += _check_all(kernel, reference, [(case, session.run(case, case.fresh_buffers()))],
                            "changed-input-wrong")
        copy_gbs = session.copy_bandwidth_gbs(COPY_PROBE_BYTES) if job.measure_copy else 0.0
        result = BenchResult(kernel=kernel.name, sizes=dict(job.sizes), dtype=job.dtype, method="device-events",
                             device=session.device, median_ms=statistics.median(times), spread_ms=iqr(times),
                             trials=len(times), flags=flags, measured_copy_gbs=copy_gbs)
        roofline.fill_figures(result, roofline.work_of(kernel, job.sizes, job.dtype, job.params), job.target,
                              copy_gbs)
        if job.baseline:
            try:
                base = runner.baseline(kernel.family, job.sizes, job.dtype, trials=job.trials, warmup=job.warmup,
                                       flush_bytes=flush_bytes)
            except Exception as exc:  # a vendor routine missing for this dtype is a note, not a failure
                result.baseline_name = f"unavailable ({type(exc).__name__}: {exc})"[:120]
            else:
                if base is not None:
                    result.baseline_name, result.baseline_median_ms = base.name, base.median_ms
        return result
    finally:
        session.close()


def estimate(kernel: KernelSpec, sizes: dict[str, int], dtype: str, target: Target,
             resources: ResourceReport | None = None, params: dict[str, int] | None = None) -> BenchResult:
    """No device: time from the roofline and occupancy, clearly labelled as an estimate."""
    work = roofline.work_of(kernel, sizes, dtype, params)
    ms = roofline.estimate_ms(work, target, dtype, resources, launches=len(kernel.launches))
    result = BenchResult(kernel=kernel.name, sizes=dict(sizes), dtype=dtype, method="estimate",
                         device=f"{target.display_name} (estimated, no device)", median_ms=ms, spread_ms=0.0,
                         trials=0, flags=["estimate"])
    return roofline.fill_figures(result, work, target)


def bench(library: LibrarySpec, kernel: KernelSpec, compiled: CompileResult, target: Target, *,
          runner: str, sizes: dict[str, int], dtype: str, params: dict[str, int] | None = None, trials: int = 50,
          warmup: int = 5, rotate: int = 3, baseline: bool = True, measure_copy: bool = True,
          timeout_s: float = 600.0) -> BenchResult:
    """Time a compiled kernel on ``runner`` (device runners, in a worker) or estimate it (emulator)."""
    if not get_runner(runner).times_on_device:
        resources = None
        if compiled.resources:
            first_entry = compiled.entry_map.get(compiled.options.entries[0]) if compiled.options.entries else None
            resources = compiled.resources.get(first_entry or "", next(iter(compiled.resources.values())))
        return estimate(kernel, sizes, dtype, target, resources, params)
    from portkern.worker import run_in_worker

    job = BenchJob(runner, library.manifest_path, kernel.name, compiled, target, dict(sizes), dtype, dict(params or {}),
                   trials, warmup, rotate, baseline, measure_copy)
    try:
        return run_in_worker(run_bench_job, job, timeout_s=timeout_s, label=f"bench {kernel.name} on {runner}",
                             env=get_runner(runner).worker_env(compiled) or None)
    except (KernelTimeoutError, WorkerCrashError) as exc:
        return BenchResult(kernel=kernel.name, sizes=dict(sizes), dtype=dtype, method="device-events",
                           device=target.display_name, median_ms=0.0, spread_ms=0.0,
                           flags=[f"{exc.cause}: {str(exc)[-300:]}"])
