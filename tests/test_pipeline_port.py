"""`portkern port` end to end: real compilers, the CPU emulator, estimates, the store and the cache.

A two-kernel HIP library written into tmp_path gives a fast, fully known case (one kernel that
builds and sweeps, one that the compiler rejects); the project's own libraries are ported too.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from minilib import write_minilib

from portkern.pipeline.run import PortOptions, port


@pytest.fixture(autouse=True)
def own_caches(tmp_path, monkeypatch):
    """Backend compile caches and the LLM cache in this test's folder: every test starts cold."""
    monkeypatch.setenv("PORTKERN_CACHE_DIR", str(tmp_path / "tool-cache"))


@pytest.fixture
def minilib(tmp_path) -> Path:
    return write_minilib(tmp_path / "libs")


def rows(db: Path, sql: str, params: tuple = ()) -> list[dict]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, params).fetchall()]
    finally:
        con.close()


def test_minilib_end_to_end_and_failure_policy(minilib, tmp_path):
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    summary = port(PortOptions(library=str(minilib), target="mi300x", budget=2, run_id="mini-1",
                               runs_dir=str(runs), cache_dir=str(cache)))
    db = runs / "index.sqlite"
    run = rows(db, "SELECT * FROM runs WHERE run_id = 'mini-1'")[0]
    assert run["status"] == "done" and run["library"] == "minilib" and run["target"] == "mi300x"
    assert json.loads(run["summary_json"])["run_id"] == "mini-1"

    kernels = {r["kernel"]: r for r in rows(db, "SELECT * FROM kernels WHERE run_id = 'mini-1'")}
    assert kernels["scale"]["status"] in ("ported", "improved"), kernels["scale"]["reason"]
    assert kernels["scale"]["timing_method"] == "estimate" and kernels["scale"]["base_ms"] > 0
    assert kernels["broken"]["status"] == "failed" and "undefined_name" in kernels["broken"]["reason"]

    # The broken kernel's compile failed with the compiler's own message; its dependents were skipped.
    st = {r["task"]: r for r in rows(db, "SELECT * FROM stage_results WHERE run_id = 'mini-1'")}
    assert st["broken/original-0.compile"]["status"] == "failed"
    assert st["broken/original-0.compile"]["cause"] == "compile"
    for dep in ("broken/original-0.validate", "broken/original-0.bench"):
        assert st[dep]["status"] == "skipped" and st[dep]["cause"] == "dependency-failed"
    assert summary["failures"]["compile"] == {"compile": 1}
    log = (runs / "mini-1" / "logs" / "broken" / "original-0.compile.log").read_text()
    assert "undefined_name" in log

    # The good kernel ran every stage: a real gfx942 code object, emulator validation at wave64, a
    # labelled prediction. Its block sizes all reach full occupancy, so the model predicts every sweep
    # point at the base's time: none is ruled out (each could still win), none is selected (none is
    # predicted faster with its whole interval above 1.0x).
    assert st["scale/original-0.compile"]["status"] == "ok"
    assert st["scale/original-0.validate"]["status"] == "ok"
    assert st["scale/original-0.bench"]["status"] == "estimated"
    cands = {r["candidate_id"]: r for r in rows(db, "SELECT * FROM candidates WHERE run_id = 'mini-1'")}
    scale = {c: r for c, r in cands.items() if c.startswith("scale/")}
    assert list(scale) == ["scale/original-0", "scale/sweep-1", "scale/sweep-2"]
    for cid in scale:
        assert st[f"{cid}.predict"]["status"] == "ok", st[f"{cid}.predict"]["reason"]
    for r in scale.values():
        assert r["compiled"] == 1 and r["validated"] == 1 and r["validation_device"].startswith("cpu-emulator (wave64;")
        assert "emulator only" in r["validation_device"]
        assert r["registers"] is not None and r["score_ms"] > 0
        assert (runs / "mini-1" / r["source_path"]).read_text().count("scale_kernel") >= 1
    assert len({round(r["score_ms"], 9) for r in scale.values()}) == 1
    assert sum(r["selected"] for r in scale.values()) == 1 and scale["scale/original-0"]["selected"] == 1
    [scale_summary] = [k for k in summary["kernels"] if k["kernel"] == "scale"]
    assert scale_summary["status"] == "ported"
    assert "no candidate is predicted faster with its whole 90% interval above 1.0x" in scale_summary["reason"]
    assert any(n.startswith("performance model:") for n in summary["notes"])
    compiled = json.loads((runs / "mini-1" / "results" / "scale" / "original-0.compile.json").read_text())
    assert compiled["payload"]["arch"] == "gfx942" and compiled["payload"]["binary_bytes"] > 0
    timings = rows(db, "SELECT * FROM timings WHERE run_id = 'mini-1' AND kernel = 'scale'")
    # the base is timed in both dtypes, the sweep points in the primary one
    base_timings = [t for t in timings if t["candidate_id"] == "scale/original-0"]
    assert sorted(t["dtype"] for t in base_timings) == ["float32", "float64"]
    assert sorted(t["dtype"] for t in timings if t not in base_timings) == ["float32", "float32"]
    assert {t["method"] for t in timings} == {"estimate"}
    assert summary["notes"] and any("wave64" in n for n in summary["notes"])

    # A second run with the same inputs recomputes nothing that was cached.
    again = port(PortOptions(library=str(minilib), target="mi300x", budget=2, run_id="mini-2",
                             runs_dir=str(runs), cache_dir=str(cache)))
    assert again["cache"]["computed"] == 0 and again["cache"]["cached"] == summary["cache"]["computed"]
    assert again["kernels"] == [dict(k) for k in again["kernels"]]
    assert [k["status"] for k in again["kernels"]] == [k["status"] for k in summary["kernels"]]


def test_resume_after_sigkill_recomputes_nothing_finished(minilib, tmp_path):
    runs, cache = tmp_path / "runs", tmp_path / "cache"
    db = runs / "index.sqlite"
    cmd = [sys.executable, "-m", "portkern", "port", "--lib", str(minilib), "--target", "mi300x", "--budget", "1",
           "--run-id", "killed", "--runs-dir", str(runs), "--cache-dir", str(cache), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    finished: list[dict] = []
    try:
        deadline = time.monotonic() + 120
        # Kill once a few stages are stored, while the emulator validations are still to come.
        while time.monotonic() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    finished = rows(db, "SELECT * FROM stage_results WHERE run_id = 'killed'")
                except sqlite3.OperationalError:
                    finished = []
                if any(r["stage"] == "compile" and r["status"] == "ok" for r in finished):
                    break
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    finished = rows(db, "SELECT * FROM stage_results WHERE run_id = 'killed'")
    assert rows(db, "SELECT status FROM runs WHERE run_id = 'killed'")[0]["status"] == "running", \
        "the run ended before it could be killed"
    cached_before = {r["task"] for r in finished if r["cache_key"] and r["status"] != "failed"}
    assert cached_before, "nothing had finished when the run was killed"

    summary = port(PortOptions(library=str(minilib), target="mi300x", budget=1, run_id="killed",
                               runs_dir=str(runs), cache_dir=str(cache)))
    after = {r["task"]: r for r in rows(db, "SELECT * FROM stage_results WHERE run_id = 'killed'")}
    assert rows(db, "SELECT status FROM runs WHERE run_id = 'killed'")[0]["status"] == "done"
    for task in cached_before:
        assert after[task]["cached"] == 1, f"{task} was recomputed after the restart"
    # Everything else that can be cached was computed exactly once, in the second run.
    keyed = [r for r in after.values() if r["cache_key"]]
    assert summary["cache"]["cached"] >= len(cached_before)
    assert summary["cache"]["cached"] + summary["cache"]["computed"] == len(keyed)
    assert any(r["cached"] == 0 for r in keyed), "the killed run had already done everything"


@pytest.mark.slow
def test_ray_executor_on_a_local_cluster(tmp_path):
    """The same DAG on a real local Ray cluster: stages run as Ray tasks chained by object refs."""
    minilib = write_minilib(tmp_path / "libs", starved=True)
    ray = pytest.importorskip("ray")
    from portkern.pipeline.ray_exec import RayExecutor
    from portkern.pipeline.run import PortRun

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        run = PortRun(PortOptions(library=str(minilib), target="mi300x", budget=1, run_id="on-ray", executor="ray",
                                  runs_dir=str(tmp_path / "runs"), cache_dir=str(tmp_path / "cache")),
                      executor=RayExecutor())
        summary = run.run()
        run.store.close()
        assert ray.is_initialized()  # the executor used the cluster it found and left it running
    finally:
        ray.shutdown()
    db = tmp_path / "runs" / "index.sqlite"
    st = {r["task"]: r for r in rows(db, "SELECT * FROM stage_results WHERE run_id = 'on-ray'")}
    assert summary["executor"] == "ray" and summary["cache"]["cached"] == 0
    assert st["broken/original-0.compile"]["status"] == "failed" and st["broken/original-0.compile"]["cause"] == "compile"
    assert st["broken/original-0.validate"]["cause"] == "dependency-failed"
    assert {st[f"scale/original-0.{s}"]["status"] for s in ("compile", "validate")} == {"ok"}
    assert st["scale/original-0.bench"]["status"] == "estimated"
    assert "scale/search-2" in st  # the driver grew the graph from a search result fetched from Ray
    kernels = {r["kernel"]: r["status"] for r in rows(db, "SELECT * FROM kernels WHERE run_id = 'on-ray'")}
    assert kernels["scale"] in ("ported", "improved") and kernels["broken"] == "failed"


def test_ray_task_options_ask_for_a_gpu_only_for_device_stages():
    from portkern.pipeline.dag import Task
    from portkern.pipeline.ray_exec import task_options

    assert task_options(Task(id="a", stage="compile", kernel="k")) == {"num_cpus": 1}
    dev = task_options(Task(id="b", stage="bench", kernel="k", needs_gpu=True, accelerator_type="H100"))
    assert dev == {"num_gpus": 1, "num_cpus": 1, "accelerator_type": "H100"}


def test_cli_reports_unknown_kernel_and_target(minilib, tmp_path):
    from portkern.cli import main

    # Input errors (exit code 3, distinct from usage errors and failed stages).
    assert main(["port", "--lib", str(minilib), "--target", "nope", "--runs-dir", str(tmp_path)]) == 3
    assert main(["port", "--lib", str(minilib), "--target", "mi300x", "--kernels", "nope",
                 "--runs-dir", str(tmp_path)]) == 3
    assert not (tmp_path / "index.sqlite").exists()


def test_runs_command_lists_the_store(minilib, tmp_path, capsys):
    from portkern.cli import main
    from portkern.pipeline.store import RunStore

    store = RunStore(tmp_path / "index.sqlite")
    store.begin_run({"run_id": "r1", "library": "minilib", "target": "mi300x", "source_dialect": "hip",
                     "target_dialect": "hip", "strategy": "sweep", "executor": "local", "budget": 1,
                     "run_dir": "r1", "toolchain_json": "{}", "portkern_version": "0"})
    store.record_kernel({"run_id": "r1", "kernel": "scale", "status": "ported"})
    store.finish_run("r1", "done", {"ok": True})
    store.close()
    assert main(["runs", "--runs-dir", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["run_id"] == "r1" and out[0]["kernels"] == 1 and out[0]["kernels_correct"] == 1
    assert out[0]["summary"] == {"ok": True}




PROJECT_PORTS = [
    ("blas", "mi300x", ["scal", "gemv_t"]),        # HIP library, HIP target: no translation
    ("nn", "mi300x", ["gelu_forward", "softmax_forward"]),   # CUDA library to HIP, wave64
    ("blas", "h100", ["scal", "gemv_t"]),          # HIP library to CUDA, compiled by nvcc
]


@pytest.mark.slow
@pytest.mark.parametrize("library,target,kernels", PROJECT_PORTS, ids=[f"{a}-{b}" for a, b, _ in PROJECT_PORTS])
def test_port_project_library(library, target, kernels, tmp_path):
    from portkern.library import load_library
    from portkern.targets import get_target

    lib, tgt = load_library(library), get_target(target)
    runs = tmp_path / "runs"
    summary = port(PortOptions(library=library, target=target, kernels=kernels, budget=1, run_id="r",
                               runs_dir=str(runs), cache_dir=str(tmp_path / "cache")))
    db = runs / "index.sqlite"
    run = rows(db, "SELECT * FROM runs WHERE run_id = 'r'")[0]
    assert (run["status"], run["source_dialect"], run["target_dialect"]) == ("done", lib.dialect, tgt.dialect)
    for rel in ("inputs/library.yaml", "inputs/target.json", "inputs/options.json", "summary.json"):
        assert (runs / "r" / rel).is_file()

    st = {r["task"]: r for r in rows(db, "SELECT * FROM stage_results WHERE run_id = 'r'")}
    base = "original-0" if lib.dialect == tgt.dialect else "rules-0"
    kernels_rows = {r["kernel"]: r for r in rows(db, "SELECT * FROM kernels WHERE run_id = 'r'")}
    assert sorted(kernels_rows) == sorted(kernels)
    for k in kernels:
        assert (f"{k}/translate" in st) == (lib.dialect != tgt.dialect)
        assert st[f"{k}/{base}.compile"]["status"] == "ok", st[f"{k}/{base}.compile"]["reason"]
        compiled = json.loads((runs / "r" / st[f"{k}/{base}.compile"]["result_path"]).read_text())["payload"]
        assert compiled["arch"] == tgt.arch and compiled["binary_bytes"] > 0
        assert st[f"{k}/{base}.validate"]["status"] == "ok", st[f"{k}/{base}.validate"]["reason"]
        assert st[f"{k}/{base}.bench"]["status"] == "estimated"
        row = kernels_rows[k]
        assert row["status"] in ("ported", "improved"), row["reason"]
        assert row["timing_method"] == "estimate" and row["base_ms"] > 0
        cands = rows(db, "SELECT * FROM candidates WHERE run_id = 'r' AND kernel = ?", (k,))
        assert f"{k}/{base}" in {c["candidate_id"] for c in cands}
        for c in cands:
            assert (runs / "r" / c["source_path"]).is_file()
            if c["validated"]:
                assert c["validation_device"] == (f"cpu-emulator (wave{tgt.wavefront}; validated on the "
                                                  f"emulator only, not on {tgt.name})")
        spec = lib.kernel(k)
        timings = rows(db, "SELECT * FROM timings WHERE run_id = 'r' AND candidate_id = ?", (f"{k}/{base}",))
        assert len(timings) == len(spec.dtypes) * len(spec.sizes_bench)
        assert all(t["method"] == "estimate" and 0 < t["roofline_fraction"] <= 1 for t in timings)
    assert any(f"wave{tgt.wavefront}" in n for n in summary["notes"])
    assert any(n.startswith("bench: predicted, not measured") for n in summary["notes"])


