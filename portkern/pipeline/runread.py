"""Read a finished run back: its store rows and its per-kernel evaluations (read-only)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portkern.errors import ConfigError


@dataclass
class RunRows:
    run: dict[str, Any]
    kernels: dict[str, dict[str, Any]]
    candidates: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_rows(run_dir: str | Path) -> RunRows:
    run_dir = Path(run_dir)
    store = run_dir.parent / "index.sqlite"
    if not store.exists():
        raise ConfigError(f"{store}: run store not found next to run folder {run_dir}",
                          hint="pass a run folder that lies in a runs directory (see `portkern runs`)")
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        run = con.execute("SELECT * FROM runs WHERE run_id = ?", (run_dir.name,)).fetchone()
        if run is None:
            raise ConfigError(f"run '{run_dir.name}' is not in {store}", hint="see `portkern runs`")
        kernels = {r["kernel"]: dict(r) for r in con.execute("SELECT * FROM kernels WHERE run_id = ?", (run_dir.name,))}
        cands = {r["candidate_id"]: dict(r)
                 for r in con.execute("SELECT * FROM candidates WHERE run_id = ?", (run_dir.name,))}
    finally:
        con.close()
    return RunRows(run=dict(run), kernels=kernels, candidates=cands)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def evaluations(run_dir: str | Path, kernel: str) -> dict[str, dict[str, Any]]:
    """The kernel's evaluations by candidate id, in evaluation order."""
    evs = read_json(Path(run_dir) / "results" / kernel / "evaluations.json") or []
    return {ev["candidate"]["id"]: ev for ev in evs}
