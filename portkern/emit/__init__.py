"""Emitters run at the end of a port run: dataset records, the evidence report, the patch.

Each emitter is independent: one that fails records its error and the others still run.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any


def run_emitters(run_dir: str | Path, store: Any = None) -> dict[str, dict[str, str]]:
    """Write ``emit/records.jsonl``, ``emit/report.md`` (+ plots) and ``emit/port.patch``.

    Returns {emitter: {"status": "ok"|"failed", "path" | "error": ...}}.
    """
    from portkern.dataset.records import write_run_records
    from portkern.emit.patch import write_patch
    from portkern.emit.report import write_report

    run_dir = Path(run_dir)
    results: dict[str, dict[str, str]] = {}
    for name, fn in (("records", write_run_records), ("report", write_report), ("patch", write_patch)):
        try:
            path = fn(run_dir)
            results[name] = {"status": "ok", "path": str(path)}
        except Exception as exc:  # an emitter's failure is recorded, never fatal to the run
            log = run_dir / "logs" / f"emit-{name}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(traceback.format_exc())
            results[name] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    return results
