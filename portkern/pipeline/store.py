"""The run store: a folder per run, and one SQLite index across runs (schema in README.md)."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from portkern import fsio
from portkern.errors import StoreError
from portkern.search.outcomes import call_outcome

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, library TEXT, target TEXT, source_dialect TEXT, target_dialect TEXT,
    strategy TEXT, executor TEXT, budget INTEGER, status TEXT, started_at TEXT, finished_at TEXT,
    run_dir TEXT, toolchain_json TEXT, portkern_version TEXT, summary_json TEXT
);
CREATE TABLE IF NOT EXISTS kernels (
    run_id TEXT, kernel TEXT, family TEXT, symbol TEXT, status TEXT, base_candidate TEXT,
    selected_candidate TEXT, base_ms REAL, selected_ms REAL, speedup REAL, timing_method TEXT, reason TEXT,
    PRIMARY KEY (run_id, kernel)
);
CREATE TABLE IF NOT EXISTS candidates (
    run_id TEXT, candidate_id TEXT, kernel TEXT, origin TEXT, parent TEXT, params_json TEXT,
    source_path TEXT, source_sha256 TEXT, prompt_kind TEXT, model TEXT, compiled INTEGER, validated INTEGER,
    validation_device TEXT, score_ms REAL, spread_ms REAL, timing_method TEXT, registers INTEGER,
    shared_bytes INTEGER, spill_bytes INTEGER, occupancy_fraction REAL, failure_stage TEXT,
    failure_cause TEXT, failure_detail TEXT, selected INTEGER,
    PRIMARY KEY (run_id, candidate_id)
);
CREATE TABLE IF NOT EXISTS stage_results (
    run_id TEXT, task TEXT, kernel TEXT, candidate_id TEXT, stage TEXT, status TEXT, reason TEXT,
    cause TEXT, cache_key TEXT, cached INTEGER, seconds REAL, result_path TEXT, finished_at TEXT,
    PRIMARY KEY (run_id, task)
);
CREATE TABLE IF NOT EXISTS timings (
    run_id TEXT, candidate_id TEXT, kernel TEXT, dtype TEXT, sizes_json TEXT, method TEXT, device TEXT,
    median_ms REAL, spread_ms REAL, trials INTEGER, bytes_moved REAL, flops REAL, gbs REAL, gflops REAL,
    roofline_fraction REAL, baseline_name TEXT, baseline_median_ms REAL, flags_json TEXT
);
CREATE TABLE IF NOT EXISTS model_calls (
    run_id TEXT, call_id TEXT, candidate_id TEXT, kernel TEXT, prompt_kind TEXT, model TEXT, provider TEXT,
    prompt_sha256 TEXT, tokens_in INTEGER, tokens_out INTEGER, seconds REAL, cached INTEGER,
    accepted INTEGER, reject_reason TEXT, error TEXT, outcome TEXT,
    PRIMARY KEY (run_id, call_id)
);
CREATE INDEX IF NOT EXISTS stage_results_by_stage ON stage_results (run_id, stage, status);
CREATE INDEX IF NOT EXISTS timings_by_candidate ON timings (run_id, candidate_id);
"""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def recorded_start(run_dir: Path) -> str:
    """When a run folder was first started (``started_at`` in ``inputs/options.json``), or ''."""
    try:
        started = json.loads((Path(run_dir) / "inputs" / "options.json").read_text()).get("started_at")
    except (OSError, ValueError, AttributeError):
        return ""
    return started if isinstance(started, str) else ""


def safe_relpath(name: str) -> str:
    """A task or candidate id as a relative path: '/' separates folders, nothing escapes the run folder."""
    parts = [re.sub(r"[^A-Za-z0-9_.+=-]", "_", p) for p in name.split("/") if p not in ("", ".", "..")]
    return "/".join(p.lstrip(".") or "_" for p in parts)


class RunFolder:
    """``runs/<run_id>/``: inputs, candidate sources, logs, stage results, summary."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        for sub in ("inputs", "candidates", "logs", "results"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    def write(self, rel: str, text: str) -> str:
        fsio.write_text(self.path / rel, text)
        return rel

    def write_json(self, rel: str, data: Any) -> str:
        return self.write(rel, json.dumps(data, indent=2, sort_keys=True, default=str))

    def candidate_source(self, candidate_id: str, source: str) -> str:
        return self.write(f"candidates/{safe_relpath(candidate_id)}.src", source)

    def result(self, task: str, data: dict[str, Any]) -> str:
        return self.write_json(f"results/{safe_relpath(task)}.json", data)

    def log(self, task: str, text: str) -> str:
        return self.write(f"logs/{safe_relpath(task)}.log", text)


class RunStore:
    """``index.sqlite`` in the runs folder. One writer per process; WAL lets readers in meanwhile."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(SCHEMA)
            self.db.commit()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open the run index ({exc})",
                             hint="move the file away; runs/<run_id>/ folders keep every result") from exc
        self._lock = threading.Lock()

    def close(self) -> None:
        self.db.close()

    def _exec(self, sql: str, rows: list[tuple] | tuple) -> None:
        with self._lock:
            if rows and isinstance(rows, list):
                self.db.executemany(sql, rows)
            elif rows and isinstance(rows, tuple):
                self.db.execute(sql, rows)
            self.db.commit()

    @staticmethod
    def _insert(table: str, row: dict[str, Any], replace: bool = True) -> tuple[str, tuple]:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        return f"{verb} INTO {table} ({cols}) VALUES ({marks})", tuple(row.values())

    # ---------------------------------------------------------------- writes

    def begin_run(self, row: dict[str, Any]) -> None:
        """A run starts (or restarts under the same id): old rows of that id are replaced as it goes."""
        row = dict(row, status="running", started_at=utc_now(), finished_at=None, summary_json=None)
        sql, vals = self._insert("runs", row)
        with self._lock:
            self.db.execute(sql, vals)
            # Derived rows are rebuilt at the end of the run; stage rows are replaced task by task.
            for table in ("kernels", "candidates", "timings", "model_calls"):
                self.db.execute(f"DELETE FROM {table} WHERE run_id = ?", (row["run_id"],))
            self.db.commit()

    def record_stage(self, run_id: str, result: Any, result_path: str) -> None:
        row = {"run_id": run_id, "task": result.task, "kernel": result.kernel, "candidate_id": result.candidate_id,
               "stage": result.stage, "status": result.status, "reason": result.reason[:4000], "cause": result.cause,
               "cache_key": result.cache_key, "cached": int(result.cached), "seconds": result.seconds,
               "result_path": result_path, "finished_at": utc_now()}
        self._exec(*self._insert("stage_results", row))

    def record_candidates(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            self._exec(*self._insert("candidates", r))

    def record_kernel(self, row: dict[str, Any]) -> None:
        self._exec(*self._insert("kernels", row))

    def record_timings(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            sql, _ = self._insert("timings", rows[0], replace=False)
            self._exec(sql, [tuple(r.values()) for r in rows])

    def record_model_calls(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            self._exec(*self._insert("model_calls", r))

    def record_selection(self, run_id: str, kernel: Any, selection: Any, history: list[Any]) -> None:
        """A kernel's outcome: its row, a row per evaluated candidate and per timing."""
        self.record_kernel(kernel_row(run_id, kernel, selection))
        self.record_candidates([candidate_row(run_id, ev, selection) for ev in history])
        self.record_timings([timing_row(run_id, ev, b) for ev in history for b in ev.bench])

    def finish_run(self, run_id: str, status: str, summary: dict[str, Any]) -> None:
        self._exec("UPDATE runs SET status = ?, finished_at = ?, summary_json = ? WHERE run_id = ?",
                   (status, utc_now(), json.dumps(summary, sort_keys=True, default=str), run_id))

    # ---------------------------------------------------------------- reads

    def query(self, sql: str, params: tuple = ()) -> list[dict[str, Any]]:
        with self._lock:
            cur = self.db.execute(sql, params)
            cols = [c[0] for c in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    def runs(self) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM runs ORDER BY started_at DESC, run_id")

    def stage_results(self, run_id: str) -> list[dict[str, Any]]:
        return self.query("SELECT * FROM stage_results WHERE run_id = ? ORDER BY task", (run_id,))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- row builders


def kernel_row(run_id: str, kernel: Any, selection: Any) -> dict[str, Any]:
    """The ``kernels`` row of a selection (pipeline.driver.Selection) for a KernelSpec."""
    s = selection
    return {"run_id": run_id, "kernel": kernel.name, "family": kernel.family, "symbol": kernel.symbol,
            "status": s.status, "base_candidate": s.base.candidate.id if s.base else "",
            "selected_candidate": s.winner.candidate.id if s.winner else None, "base_ms": s.base_ms,
            "selected_ms": s.selected_ms, "speedup": s.speedup, "timing_method": s.timing_method,
            "reason": s.reason}


def candidate_row(run_id: str, ev: Any, selection: Any) -> dict[str, Any]:
    """The ``candidates`` row of one evaluation (search.base.Evaluation)."""
    c = ev.candidate
    fail = (selection.failures or {}).get(c.id)
    res = ev.resources
    winner = selection.winner
    return {
        "run_id": run_id, "candidate_id": c.id, "kernel": c.kernel, "origin": c.origin, "parent": c.parent,
        "params_json": json.dumps(c.params, sort_keys=True),
        "source_path": f"candidates/{safe_relpath(c.id)}.src", "source_sha256": sha256_text(c.source or ""),
        "prompt_kind": c.prompt_kind, "model": c.model, "compiled": int(ev.compiled),
        "validated": int(ev.correct), "validation_device": ev.validation.device if ev.validation else "",
        "score_ms": ev.score_ms, "spread_ms": ev.spread_ms,
        "timing_method": ev.bench[0].method if ev.bench else "",
        "registers": res.registers if res else None, "shared_bytes": res.shared_bytes if res else None,
        "spill_bytes": res.spill_bytes if res else None,
        "occupancy_fraction": res.occupancy_fraction if res else None,
        "failure_stage": fail.stage if fail else "", "failure_cause": fail.cause if fail else "",
        "failure_detail": (fail.reason[:2000] if fail else ""),
        "selected": int(winner is not None and winner.candidate.id == c.id)}


def timing_row(run_id: str, ev: Any, b: Any) -> dict[str, Any]:
    """The ``timings`` row of one BenchResult of an evaluation."""
    return {"run_id": run_id, "candidate_id": ev.candidate.id, "kernel": ev.candidate.kernel,
            "dtype": b.dtype, "sizes_json": json.dumps(b.sizes, sort_keys=True), "method": b.method,
            "device": b.device, "median_ms": b.median_ms, "spread_ms": b.spread_ms, "trials": b.trials,
            "bytes_moved": b.bytes_moved, "flops": b.flops, "gbs": b.gbs, "gflops": b.gflops,
            "roofline_fraction": b.roofline_fraction, "baseline_name": b.baseline_name,
            "baseline_median_ms": b.baseline_median_ms, "flags_json": json.dumps(b.flags)}


def model_call_rows(run_id: str, calls: list[Any], evaluations: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``model_calls`` rows; a call's outcome follows its candidate's evaluation (by candidate id),
    in the words of ``portkern.search.outcomes``; a reply cut at a limit says so in its reject reason."""
    rows = []
    for call in calls:
        reason = call.reject_reason + (f" (reply cut: {call.cut})" if call.cut else "")
        rows.append({"run_id": run_id, "call_id": call.call_id, "candidate_id": call.candidate,
                     "kernel": call.kernel, "prompt_kind": call.kind, "model": call.model,
                     "provider": call.provider, "prompt_sha256": sha256_text(call.prompt),
                     "tokens_in": call.tokens_in, "tokens_out": call.tokens_out, "seconds": call.seconds,
                     "cached": int(call.cached), "accepted": int(call.accepted),
                     "reject_reason": reason.strip(), "error": call.error,
                     "outcome": call_outcome(call, evaluations)})
    return rows
