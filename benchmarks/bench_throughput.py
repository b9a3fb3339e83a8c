"""Verified candidates per minute of a port (per GPU-minute on a GPU), and where the time goes.

    python benchmarks/bench_throughput.py                                   # the CPU emulator, small case
    python benchmarks/bench_throughput.py --target h200 --kernels dot,iamax,gemm --budget 6 --json out.json

Runs one `portkern port` in this process from an empty stage cache (a temporary runs folder and cache,
removed after; ``--keep DIR`` keeps the run folder), so every candidate is compiled, validated and timed (or estimated) for real. A
candidate is verified when its validation passed and its timing was accepted (on the emulator:
estimated). Where the time goes:

- compile, validate, bench: the sum of each stage's task seconds (tasks run side by side, so a sum
  can exceed the wall time; each is also shown as a share of the wall time);
- device held: the time a GPU was held by a worker (validating or timing a candidate);
- host in device stages: validate + bench seconds minus the device held, i.e. building inputs,
  references and checks on the host while no candidate of that stage was on the GPU;
- GPU idle: 1 - device held / (wall time x GPUs);
- bench, by phase (GPU runs): the timing jobs' seconds in the worker (session open, input sets, trials,
  download of the timed outputs, the fresh-input run, the copy probe, the vendor baseline), the rest of
  each call (job start, the reply crossing the pipe), and in this process after the reply: waiting for
  the GPU (other jobs hold it), rebuilding the checked runs' inputs and float64 references on it, and
  the checks themselves.

``--mode auto`` uses the target's GPU when one is reachable, else the emulator; ``--mode emu`` forces
the emulator, ``--mode device`` refuses to run without the GPU. Exit status 0 on a finished run,
1 on bad input, 2 when ``--mode device`` finds no GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any


def _port_run_class(force_emulator: bool):
    from portkern.pipeline.run import PortRun

    if not force_emulator:
        return PortRun

    class EmulatorPortRun(PortRun):
        def _device_plan(self) -> tuple[bool, str]:
            return False, "emulator mode requested (--mode emu)"

    return EmulatorPortRun


def _pool_snapshot() -> dict[Any, tuple[int, int, float]]:
    from portkern.worker import worker_pool

    return {k: (s.calls, s.starts, s.busy_s) for k, s in worker_pool().stats.items()}


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from portkern.pipeline import harness_adapter
    from portkern.pipeline.run import PortOptions
    from portkern.targets import get_target

    target = get_target(args.target)
    device_ok, device_reason = harness_adapter.device_available(target)
    if args.mode == "device" and not device_ok:
        print(f"--mode device: no usable {target.name} GPU here ({device_reason})", file=sys.stderr)
        raise SystemExit(2)
    use_device = device_ok and args.mode != "emu"
    kernels = [k for k in args.kernels.split(",") if k]
    before = _pool_snapshot()
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        runs_dir = Path(args.keep) / "runs" if args.keep else Path(tmp) / "runs"
        options = PortOptions(library=args.lib, target=target.name, kernels=kernels, budget=args.budget,
                              strategy=args.strategy, run_id=args.run_id, runs_dir=str(runs_dir),
                              cache_dir=str(Path(tmp) / "cache"), max_workers=args.max_workers)
        run = _port_run_class(force_emulator=not use_device)(options)
        start = time.perf_counter()
        run.run()
        wall_s = time.perf_counter() - start
        results = dict(run.results)
        used_device = run.use_device
    after = _pool_snapshot()

    stage_s: dict[str, float] = defaultdict(float)
    phase_s: dict[str, float] = defaultdict(float)
    by_candidate: dict[str, dict[str, str]] = defaultdict(dict)
    for res in results.values():
        stage_s[res.stage] += float(res.seconds or 0.0)
        if res.stage == "bench" and isinstance(res.payload, dict):
            for b in res.payload.get("bench") or []:
                for name, seconds in (b.get("phases") or {}).items():
                    phase_s[name] += float(seconds)
        if res.candidate_id:
            by_candidate[res.candidate_id][res.stage] = res.status
    evaluated = [c for c, stages in by_candidate.items() if "validate" in stages]
    accepted_bench = ("ok",) if used_device else ("ok", "estimated")
    verified = [c for c in evaluated
                if by_candidate[c].get("validate") == "ok" and by_candidate[c].get("bench") in accepted_bench]

    device_keys = {k for k in after if isinstance(k, tuple) and k and k[0] == target.backend}
    held_s = sum(after[k][2] - before.get(k, (0, 0, 0.0))[2] for k in device_keys)
    calls = sum(after[k][0] - before.get(k, (0, 0, 0.0))[0] for k in device_keys)
    starts = sum(after[k][1] - before.get(k, (0, 0, 0.0))[1] for k in device_keys)
    gpus = 0
    if used_device:
        from portkern.harness.runners.base import get_runner

        gpus = max(get_runner(target.backend).device_count(), 1)
    device_stage_s = stage_s.get("validate", 0.0) + stage_s.get("bench", 0.0)
    minutes = wall_s / 60.0
    return {
        "library": args.lib, "target": target.name, "kernels": kernels or "all", "budget": args.budget,
        "strategy": args.strategy, "mode": "device" if used_device else "emulator",
        "device_reason": "" if used_device else device_reason,
        "host_cores": len(os.sched_getaffinity(0)), "gpus": gpus,
        "wall_s": wall_s, "candidates": len(evaluated), "verified": len(verified),
        "verified_per_minute": len(verified) / minutes if minutes > 0 else 0.0,
        "verified_per_gpu_minute": (len(verified) / (minutes * gpus)) if gpus and minutes > 0 else None,
        "stage_seconds": {k: round(v, 3) for k, v in sorted(stage_s.items())},
        "bench_phase_seconds": {k: round(v, 3) for k, v in phase_s.items()},
        "device_held_s": held_s if used_device else None,
        "host_in_device_stages_s": max(device_stage_s - held_s, 0.0) if used_device else None,
        "gpu_idle_percent": (100.0 * max(0.0, 1.0 - held_s / (wall_s * gpus))) if used_device and wall_s > 0 else None,
        "device_worker_calls": calls, "device_worker_starts": starts,
    }


def table(m: dict[str, Any]) -> str:
    wall = m["wall_s"]

    def share(seconds: float | None) -> str:
        return "" if seconds is None or wall <= 0 else f"{100.0 * seconds / wall:6.0f}%"

    rate = (f"{m['verified_per_gpu_minute']:.1f} per GPU-minute ({m['gpus']} GPU)"
            if m["verified_per_gpu_minute"] is not None else f"{m['verified_per_minute']:.1f} per minute (emulator)")
    lines = [f"{m['library']} on {m['target']} ({m['mode']}{': ' + m['device_reason'] if m['device_reason'] else ''}), "
             f"kernels {m['kernels']}, budget {m['budget']}, {m['host_cores']} host cores",
             f"verified {m['verified']} of {m['candidates']} candidates in {wall:.1f} s: {rate}",
             f"{'where':<26} {'seconds':>9} {'of wall':>8}"]
    rows = [(f"{stage} (sum of tasks)", m["stage_seconds"].get(stage, 0.0))
            for stage in ("compile", "validate", "bench")]
    other = sum(v for k, v in m["stage_seconds"].items() if k not in ("compile", "validate", "bench"))
    rows.append(("other stages (sum)", other))
    if m["mode"] == "device":
        rows += [("device held", m["device_held_s"]), ("host in device stages", m["host_in_device_stages_s"])]
    rows.append(("wall", wall))
    lines += [f"{name:<26} {seconds:9.1f} {share(seconds):>8}" for name, seconds in rows]
    if m["mode"] == "device":
        lines.append(f"{'GPU idle':<26} {'':>9} {m['gpu_idle_percent']:7.0f}%")
        lines.append(f"device worker: {m['device_worker_calls']} calls, {m['device_worker_starts']} start(s)")
    phases = m.get("bench_phase_seconds") or {}
    if phases:
        total = sum(phases.values())
        lines.append(f"{'bench, by phase':<26} {'seconds':>9} {'of bench':>8}")
        lines += [f"  {name:<24} {seconds:9.1f} {100.0 * seconds / total if total else 0.0:7.0f}%"
                  for name, seconds in sorted(phases.items(), key=lambda kv: -kv[1])]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lib", default="blas", help="library name or manifest (default blas)")
    ap.add_argument("--target", default="mi300x", help="target name (default mi300x; h200 on an NVIDIA H200)")
    ap.add_argument("--kernels", default="dot,axpy", help="comma-separated kernels ('' = every kernel)")
    ap.add_argument("--budget", type=int, default=2, help="candidates per kernel beyond the base (default 2)")
    ap.add_argument("--strategy", default="sweep")
    ap.add_argument("--mode", choices=("auto", "emu", "device"), default="auto")
    ap.add_argument("--max-workers", type=int, default=0, help="host threads for CPU stages (0 = cores)")
    ap.add_argument("--json", default="", metavar="OUT", help="also write the figures as JSON to OUT")
    ap.add_argument("--keep", default="", metavar="DIR",
                    help="keep the run folder under DIR/runs (its device timings train the performance model)")
    ap.add_argument("--run-id", default="throughput", help="run folder name (default throughput)")
    args = ap.parse_args(argv)
    if args.budget < 0:
        ap.error(f"--budget must be 0 or more, got {args.budget}")
    from portkern.errors import PortkernError

    try:
        figures = measure(args)
    except PortkernError as exc:
        print(f"bench_throughput: {exc}", file=sys.stderr)
        return 1
    if args.json:
        try:
            Path(args.json).write_text(json.dumps(figures, indent=2, sort_keys=True, default=str) + "\n")
        except OSError as exc:
            print(f"bench_throughput: cannot write {args.json}: {exc.strerror}", file=sys.stderr)
            return 1
    print(table(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
