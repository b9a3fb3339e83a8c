from __future__ import annotations

import json
from pathlib import Path

import click

from portkern.cli.output import emit_json, json_option, table
from portkern.config import load_config


@click.command("runs")
@click.option("--runs-dir", default="", help="Runs folder (default: config runs_dir).")
@json_option
def command(runs_dir: str, as_json: bool) -> None:
    """List the runs in the run store (runs/index.sqlite), newest first."""
    from portkern.pipeline.store import RunStore

    path = Path(runs_dir or load_config()["runs_dir"]) / "index.sqlite"
    if not path.exists():
        rows = []
    else:
        store = RunStore(path)
        try:
            rows = store.runs()
            counts = {r["run_id"]: r for r in store.query(
                "SELECT run_id, COUNT(*) AS kernels, SUM(status = 'improved') AS improved, "
                "SUM(status IN ('ported', 'improved')) AS correct FROM kernels GROUP BY run_id")}
        finally:
            store.close()
        for r in rows:
            c = counts.get(r["run_id"], {})
            r["kernels"] = c.get("kernels", 0)
            r["kernels_correct"] = c.get("correct", 0) or 0
            r["kernels_improved"] = c.get("improved", 0) or 0
    if as_json:
        for r in rows:
            for key in ("summary_json", "toolchain_json"):
                r[key.removesuffix("_json")] = json.loads(r.pop(key)) if r.get(key) else None
        emit_json(rows)
        return
    table(f"portkern runs ({path})", ["run", "library", "target", "status", "strategy", "executor", "kernels",
                                       "correct", "improved", "started", "finished"],
          [[r["run_id"], r["library"], r["target"], r["status"], r["strategy"], r["executor"], r["kernels"],
            r["kernels_correct"], r["kernels_improved"], r["started_at"], r["finished_at"] or ""] for r in rows])
