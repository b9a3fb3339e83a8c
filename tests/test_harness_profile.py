"""Profiler counters through Nsight Compute: the CSV it prints read back, the call wrapped in the worker's
sandbox, failures reported and never fatal, the counters reaching the search; on a GPU, a real ncu run."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from portkern.harness import profile
from portkern.pipeline.result import StageResult
from portkern.pipeline.stages import search_stage
from portkern.search.base import Candidate, Evaluation

# The layout `ncu --csv --page raw` prints: a header of columns, a row of units, one row per profiled
# launch, with the profiler's own lines (==PROF==) and the application's output around it.
RAW = """==PROF== Connected to process 4242 (/usr/bin/python3)
==PROF== Profiling "scal_kernel" - 0: 0%....50%....100% - 9 passes
==PROF== Disconnected from process 4242
"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","Block Size","Grid Size","Device","CC","gpu__time_duration.sum","dram__throughput.avg.pct_of_peak_sustained_elapsed","sm__warps_active.avg.pct_of_peak_sustained_active","launch__registers_per_thread"
"","","","","","","","","","","","nsecond","%","%","register/thread"
"0","4242","python3","127.0.0.1","scal_kernel","1","7","(256, 1, 1)","(65536, 1, 1)","0","9.0","61,344","89.73","82.51","16"
"""


def test_the_raw_csv_reads_back_as_named_counters():
    found = profile.parse_csv(RAW)
    assert list(found) == ["scal_kernel"]
    values = found["scal_kernel"]
    assert values["gpu__time_duration.sum"] == "61,344 nsecond"
    assert values["launch__registers_per_thread"] == "16 register/thread"
    named = profile.readings(values)
    assert list(named) == ["kernel time", "DRAM throughput (% of peak)", "achieved occupancy (%)",
                           "registers per thread"]
    assert named["DRAM throughput (% of peak)"] == "89.73 %"
    assert profile.parse_csv("==PROF== nothing profiled\n") == {}


def _stand_in_ncu(folder: Path, script: str) -> Path:
    """A stand-in for ncu (no GPU here): a shell script that records its arguments and prints ``script``."""
    path = folder / "ncu"
    path.write_text("#!/bin/sh\necho \"$@\" >> \"" + str(folder / "calls.txt") + "\"\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


class _Job:
    runner = "emu"
    compiled = None


def test_collect_runs_ncu_around_the_profiled_process_and_falls_back_to_the_core_counters(tmp_path, monkeypatch):
    csv_text = RAW.replace('"', '\\"')
    # first call: a counter this device lacks; second call (the core counters): the table
    _stand_in_ncu(tmp_path, f"""if echo "$@" | grep -q l1tex; then echo "==ERROR== Failed to find metric l1tex__x" >&2; exit 1; fi
printf "%s" "{csv_text}"
""")
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setattr(profile, "_runner_env", lambda job: {})
    got = profile.collect(_Job(), "scal_kernel", timeout_s=60)
    assert got["kernel time"] == "61,344 nsecond" and got["registers per thread"] == "16 register/thread"
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert len(calls) == 2
    assert "--kernel-name regex:scal_kernel" in calls[0] and "--csv --page raw" in calls[0]
    assert "-m portkern.harness.profile" in calls[0]
    assert "l1tex__t_sector_hit_rate.pct" in calls[0] and "l1tex" not in calls[1]


def test_a_failing_or_missing_profiler_is_reported_not_fatal(tmp_path, monkeypatch):
    _stand_in_ncu(tmp_path, 'echo "==ERROR== ERR_NVGPUCTRPERM - no permission to access the counters" >&2; exit 1\n')
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setattr(profile, "_runner_env", lambda job: {})
    got = profile.collect(_Job(), "scal_kernel", timeout_s=60)
    assert "ERR_NVGPUCTRPERM" in got["error"]
    assert len((tmp_path / "calls.txt").read_text().splitlines()) == 1     # not a counter list problem
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("CUDA_HOME", str(tmp_path / "none"))
    monkeypatch.setattr(profile, "ncu_path", lambda: None)
    assert "was not found" in profile.collect(_Job(), "scal_kernel")["error"]


def test_counters_reach_the_evaluation_and_errors_do_not():
    cand = Candidate(id="k/c1", kernel="k", source="src")

    def bench(payload):
        return StageResult(stage="bench", task="", kernel="k", status="ok",
                           payload={"bench": [], "score_ms": 1.0, "spread_ms": 0.0, **payload})

    out = search_stage([cand.to_dict()], **{"k/c1|bench": bench({"profile": {"kernel time": "1 msecond"}})})
    assert Evaluation.from_dict(out["evaluations"][0]).profile == {"kernel time": "1 msecond"}
    out = search_stage([cand.to_dict()], **{"k/c1|bench": bench({"profile": {"error": "no ncu"}})})
    assert Evaluation.from_dict(out["evaluations"][0]).profile == {}


def _gpu_reason() -> str:
    from test_harness_gpu import _gpu_reason as cuda_reason

    return cuda_reason() or ("" if profile.ncu_path() else "Nsight Compute (ncu) is not installed")


@pytest.mark.gpu
@pytest.mark.skipif(bool(_gpu_reason()), reason=_gpu_reason() or "GPU present")
def test_nsight_compute_reads_the_counters_of_a_kernel_on_the_gpu():
    from portkern.harness import build
    from portkern.harness.bench import target_for_device
    from portkern.harness.runners.base import get_runner
    from portkern.library import load_library
    from portkern.pipeline import harness_adapter

    target = target_for_device(get_runner("cuda").available().devices[0])
    lib = load_library(Path(__file__).parent / "adversarial")          # CUDA kernels: built as they are
    kernel = lib.kernel("honest_axpby")
    compiled = build(lib, kernel, target, runner="cuda", dtypes=["float32"])
    got = harness_adapter.profile(kernel, lib, target, dict(kernel.defaults), compiled.to_dict())
    assert "error" not in got, got
    assert "kernel time" in got and "DRAM throughput (% of peak)" in got
