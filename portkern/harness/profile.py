"""Profiler counters of a candidate on an NVIDIA GPU, read with Nsight Compute (``ncu``).

``collect`` writes the bench job to a file and runs ``ncu --csv --page raw --metrics ...`` around a
fresh Python process (``python -m portkern.harness.profile JOB``) that builds one input set at the
job's size and launches the candidate's kernels once; ncu replays the named kernel for each pass of
counters. The readings are what ``refine`` shows the model server once a kernel's structure has
settled (``prompts.optimize_prompt``): DRAM and SM throughput against peak, achieved occupancy, cache
hit rates, registers, shared-memory bank conflicts. A missing ncu, a counter the device does not
have, missing permissions or a timeout give a reading with an ``error`` and never fail the candidate.
"""

from __future__ import annotations

import csv
import io
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from portkern import sandbox

# Nsight Compute metric -> how the prompt names it (metric names as Nsight Compute documents them).
METRICS = {
    "gpu__time_duration.sum": "kernel time",
    "dram__throughput.avg.pct_of_peak_sustained_elapsed": "DRAM throughput (% of peak)",
    "sm__throughput.avg.pct_of_peak_sustained_elapsed": "SM throughput (% of peak)",
    "sm__warps_active.avg.pct_of_peak_sustained_active": "achieved occupancy (%)",
    "lts__t_sector_hit_rate.pct": "L2 hit rate (%)",
    "l1tex__t_sector_hit_rate.pct": "L1 hit rate (%)",
    "launch__registers_per_thread": "registers per thread",
    "l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum": "shared-memory bank conflicts",
}
# Counted on every NVIDIA GPU Nsight Compute supports: what is asked again when a longer list fails.
CORE = tuple(list(METRICS)[:4])
TIMEOUT_S = 180.0


def ncu_path() -> str | None:
    """The ncu executable: on PATH, else under $CUDA_HOME or /usr/local/cuda."""
    found = shutil.which("ncu")
    if found:
        return found
    for root in (os.environ.get("CUDA_HOME", ""), "/usr/local/cuda"):
        if root and (Path(root) / "bin" / "ncu").is_file():
            return str(Path(root) / "bin" / "ncu")
    return None


def command(ncu: str, job_file: str, symbol: str, metrics: list[str] | tuple[str, ...]) -> list[str]:
    return [ncu, "--csv", "--page", "raw", "--metrics", ",".join(metrics), "--kernel-name", f"regex:{symbol}",
            "--launch-count", "1", "--target-processes", "all",
            sys.executable, "-m", "portkern.harness.profile", job_file]


def parse_csv(text: str) -> dict[str, dict[str, str]]:
    """Rows of ``ncu --csv --page raw``, by kernel name: {metric: "value unit"}. Lines ncu and the
    profiled process print around the table (``==PROF==``, warnings) are skipped."""
    lines = [ln for ln in text.splitlines() if ln.startswith('"')]
    if len(lines) < 3:
        return {}
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    header, units, data = rows[0], rows[1], rows[2:]
    out: dict[str, dict[str, str]] = {}
    for row in data:
        if len(row) != len(header):
            continue
        record = dict(zip(header, row))
        name = record.get("Kernel Name", "")
        values = {}
        for col, unit in zip(header, units):
            if col in METRICS and record.get(col, "").strip():
                values[col] = f"{record[col].strip()} {unit.strip()}".strip()
        out.setdefault(name, values)
    return out


def readings(values: dict[str, str]) -> dict[str, str]:
    """Counter values under the names the prompt uses, in ``METRICS`` order."""
    return {label: values[metric] for metric, label in METRICS.items() if metric in values}


def collect(job: Any, symbol: str, *, timeout_s: float = TIMEOUT_S) -> dict[str, Any]:
    """The counters of ``symbol``'s first launch in the job's kernels ({label: "value unit"}), or
    {"error": why}."""
    ncu = ncu_path()
    if ncu is None:
        return {"error": "Nsight Compute (ncu) was not found on PATH, under $CUDA_HOME or /usr/local/cuda"}
    with tempfile.TemporaryDirectory(prefix="portkern-profile-") as tmp:
        job_file = str(Path(tmp) / "job.pickle")
        with open(job_file, "wb") as fh:
            pickle.dump(job, fh)
        last = ""
        for metrics in (list(METRICS), list(CORE)):
            # The profiled process runs a candidate: the worker's sandbox (no network, a scrubbed
            # environment, a private folder, resource limits, and the syscall filter it installs
            # itself before it reads the job).
            limits = sandbox.worker_limits(timeout_s, limit_memory=False)
            cmd, preexec = limits.wrap([*sandbox.network_namespace_prefix(), *command(ncu, job_file, symbol, metrics)])
            env = sandbox.scrubbed_env(tmp, {**_runner_env(job), "PATH": f"{Path(ncu).parent}:/usr/bin:/bin"})
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, cwd=tmp, env=env,
                                      preexec_fn=preexec)
            except subprocess.TimeoutExpired:
                return {"error": f"ncu ran past {timeout_s:.0f} s"}
            found = parse_csv(proc.stdout)
            if proc.returncode == 0 and found:
                return readings(next(iter(found.values())))
            last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
            last = last[0][:300]
            if "metric" not in (proc.stderr + proc.stdout).lower():
                break                    # not a counter the device lacks: a shorter list would fail too
        return {"error": f"ncu found no launch of {symbol} with counters: {last}"}


def _runner_env(job: Any) -> dict[str, str]:
    """What the runner gives its workers (the GPU it sees), without the worker's own start-up hook."""
    from portkern.harness.runners.base import get_runner

    env = dict(get_runner(job.runner).worker_env(job.compiled) or {})
    env.pop("PORTKERN_WORKER_INIT", None)
    return env


def _run_once(job_file: str) -> None:
    """The profiled process: one input set at the job's size, the candidate's launches once. The job
    (written by ``collect`` in the process that started this one) and the GPU driver are loaded first;
    then the syscall filter goes on, as in a worker, before the candidate's binary is loaded."""
    import ctypes.util  # noqa: F401  (find_library may spawn ldconfig: do it before exec is denied)
    import dataclasses

    from portkern.harness.bench import _case, _worker_library
    from portkern.harness.runners.base import get_runner

    with open(job_file, "rb") as fh:
        job = pickle.load(fh)
    runner = get_runner(job.runner)
    if hasattr(runner, "driver"):
        runner.driver()
    why = sandbox.install_syscall_filter(local_sockets=True)
    if why:
        print(f"portkern profile: {why}", file=sys.stderr, flush=True)
    kernel = _worker_library(job.library_root, job.source_root).kernel(job.kernel)
    if job.launches or job.args:
        kernel = dataclasses.replace(kernel, launches=list(job.launches or kernel.launches),
                                     args=list(job.args or kernel.args))
    session = runner.open_session(job.compiled, job.target)
    try:
        case = _case(kernel, job, job.check_seed)
        dev = session.upload(case, case.fresh_buffers())
        try:
            session.launch_all(case, dev)
            session.sync()
        finally:
            session.free(dev)
    finally:
        session.close()


if __name__ == "__main__":
    _run_once(sys.argv[1])
