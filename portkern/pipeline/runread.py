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


def library_copy(run_dir: str | Path) -> Path | None:
    """The run folder's own copy of the library inputs (``inputs/library``), if the run kept one."""
    path = Path(run_dir) / "inputs" / "library"
    return path if (path / "library.yaml").is_file() else None


def load_run_library(run_dir: str | Path, name: str = ""):
    """The library as the run read it: its copy in the run folder, else (runs made before the copy
    was kept) the library of that name wherever portkern finds libraries."""
    from portkern.library import load_library

    copy = library_copy(run_dir)
    if copy is not None:
        return load_library(copy / "library.yaml")
    if not name:
        name = read_rows(run_dir).run["library"]
    return load_library(name)


def summary(run_dir: str | Path) -> dict[str, Any]:
    """The run's ``summary.json`` ({} when the run did not get as far as writing it)."""
    return read_json(Path(run_dir) / "summary.json") or {}


def kernel_result(run_dir: str | Path, kernel: str, stage: str) -> dict[str, Any]:
    """A kernel-level stage result (``results/<kernel>/<stage>.json``: ingest, translate), or {}."""
    return read_json(Path(run_dir) / "results" / kernel / f"{stage}.json") or {}


def library_origin(run_dir: str | Path) -> str:
    """The library as the user named it for the run (a name, a folder or a library.yaml path)."""
    options = read_json(Path(run_dir) / "inputs" / "options.json") or {}
    return str(options.get("library") or read_rows(run_dir).run["library"])
