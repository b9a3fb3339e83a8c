"""Run store: schema, WAL, row replacement on restart, run folder paths."""

from __future__ import annotations

import json
import sqlite3

from portkern.pipeline.dag import StageResult
from portkern.pipeline.store import RunFolder, RunStore, safe_relpath

TABLES = {"runs", "kernels", "candidates", "stage_results", "timings", "model_calls"}


def _run_row(run_id="r1"):
    return {"run_id": run_id, "library": "blas", "target": "mi300x", "source_dialect": "hip",
            "target_dialect": "hip", "strategy": "sweep", "executor": "local", "budget": 2, "run_dir": run_id,
            "toolchain_json": "{}", "portkern_version": "0"}


def test_schema_and_wal(tmp_path):
    store = RunStore(tmp_path / "index.sqlite")
    tables = {r["name"] for r in store.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert TABLES <= tables
    assert store.query("PRAGMA journal_mode")[0]["journal_mode"] == "wal"
    store.close()


def test_rows_round_trip_and_restart_replaces(tmp_path):
    store = RunStore(tmp_path / "index.sqlite")
    store.begin_run(_run_row())
    res = StageResult(stage="compile", task="axpy/original-0.compile", kernel="axpy",
                      candidate_id="axpy/original-0", status="failed", cause="compile", reason="bad",
                      cache_key="k", seconds=0.5)
    store.record_stage("r1", res, "results/axpy/original-0.compile.json")
    store.record_kernel({"run_id": "r1", "kernel": "axpy", "status": "failed"})
    store.record_timings([{"run_id": "r1", "candidate_id": "axpy/original-0", "kernel": "axpy", "median_ms": 1.0}])
    # A reader with its own connection sees committed rows while the writer is open (WAL).
    ro = sqlite3.connect(f"file:{tmp_path / 'index.sqlite'}?mode=ro", uri=True)
    assert ro.execute("SELECT status, cause FROM stage_results").fetchall() == [("failed", "compile")]
    ro.close()
    # Restarting the same run id clears its derived rows and keeps its stage rows until replaced.
    store.begin_run(_run_row())
    assert store.query("SELECT * FROM kernels") == []
    assert store.query("SELECT * FROM timings") == []
    assert len(store.stage_results("r1")) == 1
    res.status, res.cached = "ok", True
    store.record_stage("r1", res, "results/axpy/original-0.compile.json")
    rows = store.stage_results("r1")
    assert len(rows) == 1 and rows[0]["status"] == "ok" and rows[0]["cached"] == 1
    store.finish_run("r1", "done", {"x": 1})
    run = store.runs()[0]
    assert run["status"] == "done" and json.loads(run["summary_json"]) == {"x": 1} and run["finished_at"]
    store.close()


def test_run_folder_paths_stay_inside(tmp_path):
    folder = RunFolder(tmp_path / "run")
    rel = folder.candidate_source("axpy/sweep-1", "src")
    assert rel == "candidates/axpy/sweep-1.src" and (folder.path / rel).read_text() == "src"
    assert safe_relpath("../../etc/passwd") == "etc/passwd"
    assert safe_relpath("a/.hidden/b c") == "a/hidden/b_c"
    rel = folder.result("axpy/sweep-1.compile", {"a": 1})
    assert json.loads((folder.path / rel).read_text()) == {"a": 1}
    for sub in ("inputs", "candidates", "logs", "results"):
        assert (folder.path / sub).is_dir()
