"""The nightly dataset job: libraries x targets x strategies through the pipeline, then an export."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from portkern.dataset.export import export
from portkern.errors import ConfigError
from portkern.fsio import write_text

_FIELDS = {"libraries": list, "targets": list, "strategies": list, "budget": int, "executor": str,
           "ray_address": str, "runs_dir": str, "out_dir": str, "shard_size": int, "kernels": dict}


@dataclass
class NightlyConfig:
    libraries: list[str]
    targets: list[str]
    strategies: list[str] = field(default_factory=lambda: ["sweep"])
    budget: int = 6
    executor: str = "local"
    ray_address: str = ""
    runs_dir: str = "runs"
    out_dir: str = "datasets/out"
    shard_size: int = 2000
    kernels: dict[str, list[str]] = field(default_factory=dict)   # library -> kernels ({} = all)

    @classmethod
    def load(cls, path: str | Path) -> NightlyConfig:
        p = Path(path)
        if not p.exists():
            raise ConfigError(f"{p}: nightly config not found", hint="see datasets/nightly.yaml for the format")
        try:
            data = yaml.safe_load(p.read_text()) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{p}: not valid YAML ({exc})") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{p}: the top level must be a mapping")
        for key, value in data.items():
            if key not in _FIELDS:
                raise ConfigError(f"{p}: unknown field '{key}'", hint=f"known: {', '.join(_FIELDS)}")
            if not isinstance(value, _FIELDS[key]):
                raise ConfigError(f"{p}: field '{key}' must be {_FIELDS[key].__name__}, got {value!r}")
        for key in ("libraries", "targets"):
            if not data.get(key):
                raise ConfigError(f"{p}: field '{key}' is required and must not be empty")
        for key in ("budget", "shard_size"):
            if key in data and data[key] < 1:
                raise ConfigError(f"{p}: field '{key}' must be at least 1, got {data[key]}")
        if data.get("executor", "local") not in ("local", "ray"):
            raise ConfigError(f"{p}: field 'executor' must be 'local' or 'ray'")
        return cls(**data)

    def combos(self) -> list[tuple[str, str, str]]:
        return [(lib, tgt, strat) for lib in self.libraries for tgt in self.targets for strat in self.strategies]


PortFn = Callable[..., dict[str, Any]]


def _default_port(**kwargs) -> dict[str, Any]:
    from portkern.pipeline.run import PortOptions, port

    return port(PortOptions(**kwargs))


def _run_done(store: Path, run_id: str) -> bool:
    if not store.exists():
        return False
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        row = con.execute("SELECT status FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    except sqlite3.Error:
        return False
    finally:
        con.close()
    return bool(row and row[0] == "done")


def run_nightly(cfg: NightlyConfig, *, date: str | None = None, port: PortFn | None = None,
                progress: Callable[[str], None] = print) -> dict[str, Any]:
    date = date or dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")
    port = port or _default_port
    runs_dir = Path(cfg.runs_dir)
    store = runs_dir / "index.sqlite"
    run_dirs: list[Path] = []
    summary: dict[str, Any] = {"date": date, "runs": [], "failures": []}
    for lib, tgt, strat in cfg.combos():
        run_id = f"nightly-{date}-{lib}-{tgt}-{strat}"
        if _run_done(store, run_id):
            progress(f"{run_id}: already done, kept")
            summary["runs"].append({"run_id": run_id, "status": "reused"})
        else:
            progress(f"{run_id}: running")
            try:
                port(library=lib, target=tgt, strategy=strat, budget=cfg.budget, executor=cfg.executor,
                     ray_address=cfg.ray_address, run_id=run_id, runs_dir=str(runs_dir),
                     kernels=list(cfg.kernels.get(lib, [])))
                summary["runs"].append({"run_id": run_id, "status": "ran"})
            except Exception as exc:  # one failed combination must not lose the others
                progress(f"{run_id}: failed: {exc}")
                summary["failures"].append({"run_id": run_id, "error": str(exc)[:2000]})
                continue
        run_dirs.append(runs_dir / run_id)
    out = Path(cfg.out_dir) / date
    manifest = export([d for d in run_dirs if d.exists()], out, shard_size=cfg.shard_size)
    summary.update(_run_stats(store, [d.name for d in run_dirs]))
    summary.update(dataset_figures(manifest))
    summary["out_dir"] = str(out)
    write_text(out / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary


def dataset_figures(manifest: dict[str, Any]) -> dict[str, Any]:
    """What the nightly job reports about the data: counts per type and config, measured vs predicted,
    duplicates removed, contamination hits, identity pairs (must be 0) and records per family."""
    c = manifest["counts"]
    return {"records": c["by_type"], "records_out": manifest["records_out"], "configs": c["by_config"],
            "performance": c["performance"], "hard_cases": c["hard_cases"], "identity_pairs": c["identity_pairs"],
            "duplicates": {"exact": manifest["dedup"]["exact_duplicates"], "near": manifest["dedup"]["near_duplicates"]},
            "contamination_hits": len(manifest["contamination"]["dropped"]), "families": c["by_family"],
            "left_out": manifest.get("left_out", {})}


def _run_stats(store: Path, run_ids: list[str]) -> dict[str, Any]:
    if not store.exists() or not run_ids:
        return {"pass_rate": None, "model_calls": 0, "gpu_seconds": 0.0}
    con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    marks = ",".join("?" * len(run_ids))
    try:
        rows = con.execute(f"SELECT compiled, validated FROM candidates WHERE run_id IN ({marks})", run_ids).fetchall()
        calls = con.execute(f"SELECT outcome FROM model_calls WHERE run_id IN ({marks})", run_ids).fetchall()
        gpu = con.execute(f"SELECT COALESCE(SUM(seconds), 0) FROM stage_results WHERE run_id IN ({marks}) "
                          "AND stage IN ('validate', 'bench') AND status = 'ok' AND reason NOT LIKE '%emulator%'",
                          run_ids).fetchone()[0]
    finally:
        con.close()
    compiled = sum(1 for c, _ in rows if c)
    return {"candidates": len(rows), "compiled": compiled, "validated": sum(1 for _, v in rows if v),
            "pass_rate": (sum(1 for _, v in rows if v) / compiled) if compiled else None,
            "model_calls": len(calls), "model_call_outcomes": dict(Counter(o for (o,) in calls)),
            "gpu_seconds": float(gpu)}
