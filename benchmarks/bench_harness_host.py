"""Host-side cost of the device benchmark: input sets, float64 references, output checks.

Times, on the CPU only, what a device timing does around the device work for a few blas
configurations: building an input case (``make_case``), the float64 reference of one case, the
check of one honest run, and the whole host side of ``run_bench_job`` plus the caller's checks
(``judge_bench``) with the device replaced by
HostStandInSession (host memory; its own time, which includes computing the outputs an honest
kernel would leave, is measured and subtracted). Prints seconds.

    .venv/bin/python benchmarks/bench_harness_host.py [--only dot-2^24,gemm-1024^3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import time
from typing import Any

import numpy as np

from portkern.harness.compare import check_run
from portkern.harness.inputs import Case, make_case, to_storage
from portkern.library import load_library
from portkern.model import CompileOptions, CompileResult
from portkern.targets import get_target

# The package exports a function named ``bench``; the module itself is wanted here.
hbench = importlib.import_module("portkern.harness.bench")

CONFIGS = {
    "dot-2^24": ("dot", {"n": 1 << 24, "incx": 1, "incy": 1}),
    "dot-2^26": ("dot", {"n": 1 << 26, "incx": 1, "incy": 1}),
    "gemv-8192^2": ("gemv_n", {"m": 8192, "n": 8192, "pad": 0, "incx": 1, "incy": 1}),
    "gemm-1024^3": ("gemm", {"m": 1024, "n": 1024, "k": 1024}),
}


def reference_of(reference: Any, case: Case) -> dict[str, Any]:
    """The float64 reference of one case, as the harness computes it for a checked run."""
    return reference(case.reference_inputs(), case.dtype)


def honest_after(case: Case, buffers: dict[str, list[np.ndarray]], expected: dict[str, Any]) -> dict:
    """What a correct kernel leaves: the inputs untouched, every output set to the reference."""
    after = {n: [b.copy() for b in bufs] for n, bufs in buffers.items()}
    for name, arg in case.arrays.items():
        if arg.role not in ("output", "inout"):
            continue
        want = np.asarray(expected[name]).reshape(arg.batches, arg.count)
        for b, (i, s) in enumerate(arg.used_slices()):
            after[name][i][s] = to_storage(want[b], arg.dtype)
    return after


class HostStandInSession:
    """Stand-in for a DeviceSession that keeps buffers in host memory and computes honest outputs."""

    device = "host stand-in (no device)"

    def __init__(self, reference: Any):
        self.reference = reference
        self.seconds = 0.0          # time spent inside the stand-in, subtracted from the host figure
        self._content: dict[int, tuple[Case, dict]] = {}

    def _timed(self, fn, *args):
        start = time.perf_counter()
        try:
            return fn(*args)
        finally:
            self.seconds += time.perf_counter() - start

    def upload(self, case, buffers):
        return self._timed(self._upload, case, buffers)

    def _upload(self, case, buffers):
        handle = {"buffers": {n: [b.copy() for b in bufs] for n, bufs in buffers.items()}, "case": case}
        self._content[id(handle)] = (case, handle["buffers"])
        return handle

    def download(self, case, dev):
        return self._timed(self._download, case, dev)

    def _download(self, case, dev):
        src_case, src_buffers = dev["content"]
        return honest_after(src_case, src_buffers, reference_of(self.reference, src_case))

    def free(self, dev):
        dev.pop("buffers", None)

    def time_trials(self, work, pool, *, trials, warmup, flush_bytes, plan=None):
        last = [-1] * len(work)
        for t in range(trials):
            last[t % len(work)] = t % len(pool)
        for (_, dev), p in zip(work, last):
            dev["content"] = (pool[p][0], pool[p][1]["buffers"])
        return [1.0] * trials, last

    def run(self, case, buffers, repeats=1):
        return self._timed(lambda: honest_after(case, buffers, reference_of(self.reference, case)))

    def copy_bandwidth_gbs(self, nbytes):
        return 0.0

    def close(self):
        pass


class HostStandInRunner:
    def __init__(self, session: HostStandInSession):
        self.session = session

    def open_session(self, compiled, target):
        return self.session


def _seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name: str, lib: Any, dtype: str, repeat: int, whole_job: bool) -> tuple[float, ...]:
    """(make_case s, reference s, check s, run_bench_job host s) of one configuration."""
    kname, sizes = CONFIGS[name]
    kernel = lib.kernel(kname)
    reference = lib.reference(kernel)
    params = dict(kernel.defaults)
    make = _seconds(lambda: make_case(kernel, sizes, dtype, 1, params=params), repeat)
    case = make_case(kernel, sizes, dtype, 2, params=params, reference_view=False)
    ref = _seconds(lambda: reference_of(reference, case), repeat)
    expected = reference_of(reference, case)
    after = honest_after(case, case.fresh_buffers(), expected)
    check = _seconds(lambda: check_run(kernel, case, after, expected), repeat)
    assert check_run(kernel, case, after, expected).passed
    case = after = expected = None  # free the arrays before the whole-job figure
    if not whole_job:
        return make, ref, check, float("nan")
    session = HostStandInSession(reference)
    original = hbench.get_runner
    hbench.get_runner = lambda _name: HostStandInRunner(session)
    try:
        compiled = CompileResult(backend="cuda", target="h200", arch="sm_90", code_type="cubin", binary=b"",
                                 entry_symbols=[], entry_map={}, resources={}, log="", compiler="",
                                 options=CompileOptions(), cache_key="")
        job = hbench.BenchJob("cuda", lib.root, kname, compiled, get_target("h200"), dict(sizes), dtype, params,
                              pool_seeds=[101, 102, 103, 104], check_seed=105,
                              plan=hbench.TrialPlan(min_trials=50, max_trials=50, fraction=0.0), warmup=5, rotate=3,
                              baseline=False, measure_copy=False)
        start = time.perf_counter()
        # The worker's side, then the checks its caller makes on the raw reply.
        result = hbench.judge_bench(kernel, reference, job, hbench.run_bench_job(job))
        job_s = time.perf_counter() - start - session.seconds
    finally:
        hbench.get_runner = original
    assert not result.flags, result.flags
    return make, ref, check, job_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated configurations (default: all)")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-job", action="store_true", help="skip the whole run_bench_job host figure")
    args = parser.parse_args()
    lib = load_library("blas")
    print(f"host cores: {len(os.sched_getaffinity(0))}, dtype {args.dtype}")
    print(f"{'config':<14} {'make_case s':>12} {'reference s':>12} {'check s':>9} {'bench job host s':>17}")
    for name in [n for n in args.only.split(",") if n] or list(CONFIGS):
        figures = measure(name, lib, args.dtype, args.repeat, not args.no_job)
        print(f"{name:<14} " + " ".join(f"{v:>{w}.3f}" for v, w in zip(figures, (12, 12, 9, 17))), flush=True)


if __name__ == "__main__":
    main()
