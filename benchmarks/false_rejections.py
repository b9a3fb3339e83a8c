"""False rejections: the libraries' original kernels validated on many fresh seeds (emulator or GPU).

An original kernel is correct by definition, so every rejection printed here is a harness bug (a
tolerance too tight, a distribution that leaves the routine undefined, ...). Each kernel is compiled
once; then, for every seed, the full validation plan (public and hidden cases, every dtype) is drawn
from that seed and run in the sandboxed worker, and every case is judged as ``validate`` judges it.
Kernels run in parallel, one process per core. Prints one line per rejection (kernel, dtype, sizes,
case seed, variant, failure, detail) and a summary line; exits 1 when anything was rejected.

    PYTHONPATH=. .venv/bin/python benchmarks/false_rejections.py --seeds 40
    PYTHONPATH=. .venv/bin/python benchmarks/false_rejections.py --kernels blas:dot,nn:gelu_forward --seeds 200

With ``--device`` the kernels run on this machine's GPU instead: each is built the way ``portkern port``
builds it for that GPU's target (the HIP libraries translated to CUDA by the rules), validated there
by the same plans, and judged here.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from portkern.errors import CompileError
from portkern.harness.validate import build, plan_cases, validate_compiled
from portkern.library import library_names, load_library
from portkern.targets import get_target

LIBRARIES = ("blas", "solver", "nn")


def all_kernels(libraries: tuple[str, ...] = LIBRARIES) -> list[str]:
    names = set(library_names())
    return [f"{lib}:{k.name}" for lib in libraries if lib in names for k in load_library(lib).kernels]


def _device_build(lib, spec, target):
    """The kernel built as the pipeline builds it for ``target`` (translated when the dialects differ)."""
    from portkern.model import CompileResult
    from portkern.pipeline.stages import compile_stage, ingest_stage, library_digest, translate_stage

    source = ingest_stage(lib, spec, library_digest(lib))["source"]
    flags = list(lib.compile_flags)
    if lib.dialect != target.dialect:
        result = translate_stage(source, lib.dialect, target.dialect, spec.file)
        source = result["source"] if isinstance(result, dict) else result.payload["source"]
        flags = []
    return CompileResult.from_dict(compile_stage(source, spec, lib, target, dict(spec.defaults), flags))


def run_kernel(qualified: str, seeds: list[int], timeout_s: float,
               device: str = "") -> tuple[str, int, list[str], float]:
    """(kernel, cases judged, rejection lines, seconds) for one kernel over ``seeds`` (on the emulator, or
    on the GPU of target ``device``)."""
    started = time.monotonic()
    lib_name, kernel_name = qualified.split(":", 1)
    lib = load_library(lib_name)
    spec = lib.kernel(kernel_name)
    target = get_target(device or ("mi300x" if lib.dialect == "hip" else "h100"))
    runner = target.backend if device else "emu"
    try:
        compiled = _device_build(lib, spec, target) if device else build(lib, spec, target, runner="emu")
    except CompileError as exc:
        return qualified, 0, [f"{qualified}: compile failed: {str(exc)[-300:]}"], time.monotonic() - started
    plans = []
    for i, seed in enumerate(seeds):
        # Public cases have fixed seeds: the same for every plan, so they run once.
        plans += [p for p in plan_cases(spec, hidden=True, rng=np.random.default_rng(seed))
                  if i == 0 or p.visibility == "hidden"]
    result = validate_compiled(lib, spec, compiled, target, runner=runner, cases=plans, timeout_s=timeout_s)
    lines = []
    if not result.cases and result.failure:
        lines.append(f"{qualified}: {result.failure}: {result.detail[:500]}")
    for case in result.cases:
        if not case.passed:
            lines.append(f"{qualified} {case.dtype} sizes {case.sizes} seed {case.seed}: {case.failure}: "
                         f"{case.detail[:300]} sample {case.mismatch_sample[:2]}")
    return qualified, len(result.cases), lines, time.monotonic() - started


def _stop_tree(pid: int) -> None:
    """SIGKILL a pool process and every process below it (its sandboxed workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    try:
        below = [int(c) for c in children.read_text().split()] if children.exists() else []
    except OSError:
        below = []
    for child in below:
        _stop_tree(child)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="validation plans per kernel (default 20)")
    parser.add_argument("--first-seed", type=int, default=0, help="plans use seeds first-seed .. first-seed+seeds-1")
    parser.add_argument("--kernels", default="", help="comma list of library:kernel or library names (default: all)")
    parser.add_argument("--jobs", type=int, default=0, help="parallel processes (default: available cores)")
    parser.add_argument("--timeout-s", type=float, default=3600.0, help="worker time limit per kernel")
    parser.add_argument("--device", action="store_true", help="validate on this machine's GPU, not the emulator")
    args = parser.parse_args(argv)
    device = ""
    if args.device:
        from portkern.harness.bench import target_for_device
        from portkern.harness.runners.base import get_runner

        avail = get_runner("cuda").available()
        found = target_for_device(avail.devices[0]) if avail.ok and avail.devices else None
        if found is None:
            parser.error(f"--device: no GPU of a known target here ({avail.reason or ', '.join(avail.devices)})")
        device = found.name
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    wanted = [w.strip() for w in args.kernels.split(",") if w.strip()]
    known = all_kernels()
    kernels = []
    for w in wanted or list(LIBRARIES):
        kernels += [k for k in known if k.startswith(w + ":")] if ":" not in w else [w]
    unknown = [k for k in kernels if k not in known]
    if unknown or not kernels:
        parser.error(f"--kernels {args.kernels!r} names no kernel of {', '.join(LIBRARIES)}"
                     + (f" ({', '.join(unknown[:5])} unknown)" if unknown else "") + "; use library or library:kernel")
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    jobs = args.jobs or max(len(os.sched_getaffinity(0)), 1)
    started = time.monotonic()
    total_cases, rejections = 0, []
    pool = ProcessPoolExecutor(max_workers=jobs)
    # Stopped (a time limit's TERM, ^C): the kernels reported so far stay printed; the processes still
    # validating are stopped with their process groups (each holds a sandboxed worker, on the GPU with
    # --device), so nothing keeps using the device after this process is gone.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        futures = [pool.submit(run_kernel, k, seeds, args.timeout_s, device) for k in kernels]
        for fut in as_completed(futures):
            name, cases, lines, seconds = fut.result()
            total_cases += cases
            rejections += lines
            print(f"{name}: {cases} cases, {len(lines)} rejected, {seconds:.1f} s", flush=True)
            for line in lines:
                print("  REJECTED " + line, flush=True)
    except BaseException:
        print(f"stopped after {total_cases} cases, {len(rejections)} rejections", flush=True)
        for proc in list(getattr(pool, "_processes", {}).values()):
            _stop_tree(proc.pid)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    print(f"{args.seeds} seeds x {len(kernels)} kernels: {total_cases} cases, {len(rejections)} rejections, "
          f"{time.monotonic() - started:.0f} s on {jobs} processes" + (f", on the {device} GPU" if device else ""))
    return 1 if rejections else 0


if __name__ == "__main__":
    sys.exit(main())
