"""False rejections: the libraries' original kernels validated on many fresh seeds on the emulator.

An original kernel is correct by definition, so every rejection printed here is a harness bug (a
tolerance too tight, a distribution that leaves the routine undefined, ...). Each kernel is compiled
once; then, for every seed, the full validation plan (public and hidden cases, every dtype) is drawn
from that seed and run in the sandboxed worker, and every case is judged as ``validate`` judges it.
Kernels run in parallel, one process per core. Prints one line per rejection (kernel, dtype, sizes,
case seed, variant, failure, detail) and a summary line; exits 1 when anything was rejected.

    PYTHONPATH=. .venv/bin/python benchmarks/false_rejections.py --seeds 40
    PYTHONPATH=. .venv/bin/python benchmarks/false_rejections.py --kernels blas:dot,nn:gelu_forward --seeds 200
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np

from portkern.errors import CompileError
from portkern.harness.validate import build, plan_cases, validate_compiled
from portkern.library import library_names, load_library
from portkern.targets import get_target

LIBRARIES = ("blas", "solver", "nn")


def all_kernels(libraries: tuple[str, ...] = LIBRARIES) -> list[str]:
    names = set(library_names())
    return [f"{lib}:{k.name}" for lib in libraries if lib in names for k in load_library(lib).kernels]


def run_kernel(qualified: str, seeds: list[int], timeout_s: float) -> tuple[str, int, list[str], float]:
    """(kernel, cases judged, rejection lines, seconds) for one kernel over ``seeds``."""
    started = time.monotonic()
    lib_name, kernel_name = qualified.split(":", 1)
    lib = load_library(lib_name)
    spec = lib.kernel(kernel_name)
    target = get_target("mi300x" if lib.dialect == "hip" else "h100")
    try:
        compiled = build(lib, spec, target, runner="emu")
    except CompileError as exc:
        return qualified, 0, [f"{qualified}: compile failed: {str(exc)[-300:]}"], time.monotonic() - started
    plans = []
    for i, seed in enumerate(seeds):
        # Public cases have fixed seeds: the same for every plan, so they run once.
        plans += [p for p in plan_cases(spec, hidden=True, rng=np.random.default_rng(seed))
                  if i == 0 or p.visibility == "hidden"]
    result = validate_compiled(lib, spec, compiled, target, runner="emu", cases=plans, timeout_s=timeout_s)
    lines = []
    if not result.cases and result.failure:
        lines.append(f"{qualified}: {result.failure}: {result.detail[:500]}")
    for case in result.cases:
        if not case.passed:
            lines.append(f"{qualified} {case.dtype} sizes {case.sizes} seed {case.seed}: {case.failure}: "
                         f"{case.detail[:300]} sample {case.mismatch_sample[:2]}")
    return qualified, len(result.cases), lines, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=20, help="validation plans per kernel (default 20)")
    parser.add_argument("--first-seed", type=int, default=0, help="plans use seeds first-seed .. first-seed+seeds-1")
    parser.add_argument("--kernels", default="", help="comma list of library:kernel or library names (default: all)")
    parser.add_argument("--jobs", type=int, default=0, help="parallel processes (default: available cores)")
    parser.add_argument("--timeout-s", type=float, default=3600.0, help="worker time limit per kernel")
    args = parser.parse_args(argv)
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
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_kernel, k, seeds, args.timeout_s) for k in kernels]
        for fut in as_completed(futures):
            name, cases, lines, seconds = fut.result()
            total_cases += cases
            rejections += lines
            print(f"{name}: {cases} cases, {len(lines)} rejected, {seconds:.1f} s", flush=True)
            for line in lines:
                print("  REJECTED " + line, flush=True)
    print(f"{args.seeds} seeds x {len(kernels)} kernels: {total_cases} cases, {len(rejections)} rejections, "
          f"{time.monotonic() - started:.0f} s on {jobs} processes")
    return 1 if rejections else 0


if __name__ == "__main__":
    sys.exit(main())
