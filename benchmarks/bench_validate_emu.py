"""Validation of a whole library on the CPU emulator: seconds of the validate stage, kernel by kernel.

Runs `portkern port --lib LIB --target TARGET --budget 0 --jobs 1` in a fresh process with an empty
stage and compiler cache (a temporary folder, removed after), so every original kernel is built for the
emulator and validated for real (public and hidden cases, every dtype, AddressSanitizer where its
runtime is installed), one at a time. Prints the validate stage's seconds per kernel, the stage totals
and the process's wall and CPU time.

    .venv/bin/python benchmarks/bench_validate_emu.py                       # blas, mi300x (wave 64)
    .venv/bin/python benchmarks/bench_validate_emu.py --checkout ../other   # another checkout of portkern

``--checkout DIR`` runs the port from DIR (its own ``portkern`` package first on the path), so an older
commit can be measured beside this one on the same machine and load: `git worktree add DIR COMMIT`, then
`ln -s ../backends DIR/portkern/backends` (the installed package maps ``portkern.backends`` to this
checkout's ``backends/``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def measure(checkout: Path, lib: str, target: str, kernels: str | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="portkern-valbench-") as tmp:
        env = {**os.environ, "PYTHONPATH": str(checkout), "PORTKERN_PERFMODEL": "analytic"}
        cmd = [sys.executable, "-m", "portkern", "port", "--lib", lib, "--target", target, "--budget", "0",
               "--jobs", "1", "--runs-dir", f"{tmp}/runs", "--cache-dir", f"{tmp}/cache", "--run-id", "v"]
        if kernels:
            cmd += ["--kernels", kernels]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
        wall = time.monotonic() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode not in (0, 3):      # 3: finished with kernels that did not validate
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
            raise SystemExit(f"the port in {checkout} failed with exit status {proc.returncode}")
        db = sqlite3.connect(f"{tmp}/runs/index.sqlite")
        stages = {s: (n, t) for s, n, t in db.execute(
            "select stage, count(*), sum(seconds) from stage_results group by stage")}
        per_kernel = dict(db.execute("select kernel, seconds from stage_results where stage = 'validate'"))
        passed = db.execute("select count(*) from candidates where validated = 1").fetchone()[0]
        db.close()
    return {"checkout": str(checkout), "wall_s": round(wall, 1),
            "cpu_s": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
            "stages": {s: {"tasks": n, "seconds": round(t, 1)} for s, (n, t) in stages.items()},
            "validate_by_kernel": {k: round(v, 2) for k, v in sorted(per_kernel.items())},
            "validated": passed}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", default="blas")
    ap.add_argument("--target", default="mi300x")
    ap.add_argument("--kernels", default=None)
    ap.add_argument("--checkout", type=Path, default=REPO, help="a portkern checkout (default: this one)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()
    checkout = args.checkout.resolve()
    if checkout != REPO and not (checkout / "portkern" / "backends").exists():
        # The installed package maps portkern.backends to this checkout's backends/: the other
        # checkout must bring its own, or the figures would mix the two.
        print(f"{checkout}: portkern/backends is missing; run `ln -s ../backends portkern/backends` there "
              "so its own backends are measured", file=sys.stderr)
        return 1
    out = measure(checkout, args.lib, args.target, args.kernels)
    for kernel, s in sorted(out["validate_by_kernel"].items(), key=lambda kv: -kv[1]):
        print(f"  {kernel:<24}{s:8.2f} s")
    for stage, row in sorted(out["stages"].items(), key=lambda kv: -kv[1]["seconds"]):
        print(f"{stage:<12}{row['tasks']:5} tasks {row['seconds']:9.1f} s")
    print(f"validated {out['validated']}; wall {out['wall_s']} s, CPU {out['cpu_s']} s ({out['checkout']})")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
