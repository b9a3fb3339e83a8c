"""Build fine-tuning records from a finished run (run folder + store rows).

Record types: translation, repair, optimization, preference, performance (``datasets/schema``).
Every record is schema-checked before it is written; a run with nothing verified yields few records,
never invented ones.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portkern import __version__
from portkern.dataset.schema import validate_record
from portkern.pipeline.runread import read_rows

REPO = Path(__file__).resolve().parent.parent.parent


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=REPO, timeout=10)
        return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"
    except OSError:
        return "unknown"


@dataclass
class RunView:
    """What record building needs from one run, read from its folder and the store."""

    run_id: str
    run_dir: Path
    library: str
    target: str
    source_dialect: str
    target_dialect: str
    license: str
    compilers: dict[str, str]
    kernels: dict[str, dict[str, Any]] = field(default_factory=dict)  # kernel -> {family, file, symbol}


def _json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def open_run(run_dir: str | Path) -> RunView:
    run_dir = Path(run_dir).resolve()
    rows = read_rows(run_dir)
    row, kernels = rows.run, rows.kernels
    run_id = run_dir.name
    manifest = run_dir / "inputs" / "library.yaml"
    license_id, files = "NOASSERTION", {}
    if manifest.exists():
        import yaml

        data = yaml.safe_load(manifest.read_text()) or {}
        license_id = str(data.get("license") or "NOASSERTION")
        files = {k.get("name"): k.get("file", "") for k in data.get("kernels", []) if isinstance(k, dict)}
    for name, info in kernels.items():
        info["file"] = files.get(name, "")
    return RunView(run_id=run_id, run_dir=run_dir, library=row["library"], target=row["target"],
                   source_dialect=row["source_dialect"], target_dialect=row["target_dialect"], license=license_id,
                   compilers=json.loads(row["toolchain_json"] or "{}"), kernels=kernels)


def _verdict(ev: dict[str, Any]) -> dict[str, Any]:
    val = ev.get("validation") or {}
    cases = [{k: c[k] for k in ("sizes", "dtype", "seed", "passed", "max_abs_error", "max_rel_error", "failure")
              if k in c} for c in val.get("cases", [])]
    errors = [e for e in (ev.get("compile_error", ""), val.get("detail", "")) if e]
    return {"compiled": bool(ev.get("compiled")), "correct": bool(ev.get("compiled") and val.get("passed")),
            "validation_device": val.get("device", ""), "cases": cases, "errors": [e[:4000] for e in errors]}


def _resources(ev: dict[str, Any]) -> dict[str, Any]:
    r = ev.get("resources") or {}
    return {"registers": int(r.get("registers", 0)), "shared_bytes": int(r.get("shared_bytes", 0)),
            "spill_bytes": int(r.get("spill_bytes", 0)), "occupancy_fraction": float(r.get("occupancy_fraction", 0.0))}


def _timing(ev: dict[str, Any]) -> dict[str, Any] | None:
    bench = ev.get("bench") or []
    if not bench or not ev.get("score_ms"):
        return None
    b = bench[0]
    return {"median_ms": float(ev["score_ms"]), "spread_ms": float(ev.get("spread_ms", 0.0)),
            "method": b.get("method", "estimate"), "device": b.get("device", ""),
            "roofline_fraction": float(b.get("roofline_fraction", 0.0))}


class RecordBuilder:
    def __init__(self, run: RunView):
        self.run = run
        self.created_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self.versions = {"portkern": __version__, "git_revision": git_revision(), "compilers": run.compilers}

    def header(self, kind: str, kernel: str, body: dict[str, Any], model: str = "") -> dict[str, Any]:
        info = self.run.kernels.get(kernel, {})
        versions = dict(self.versions)
        if model:
            versions["model"] = model
        rec = {"record_type": kind, "run_id": self.run.run_id, "target": self.run.target,
               "provenance": {"library": self.run.library, "file": info.get("file") or "unknown", "kernel": kernel,
                              "family": info.get("family") or kernel, "license": self.run.license},
               "versions": versions, "created_at": self.created_at, **body}
        digest = json.dumps({k: v for k, v in rec.items() if k not in ("created_at", "versions")}, sort_keys=True)
        rec["record_id"] = hashlib.sha256(digest.encode()).hexdigest()
        validate_record(rec)
        return rec

    def for_kernel(self, kernel: str, evaluations: list[dict[str, Any]], translation: dict[str, Any] | None) -> list[dict]:
        out: list[dict] = []
        by_id = {ev["candidate"]["id"]: ev for ev in evaluations}
        base = evaluations[0] if evaluations else None
        dialect = self.run.target_dialect
        # translation: the ported base against the original source
        if translation and base and translation.get("source") and base["candidate"].get("source"):
            out.append(self.header("translation", kernel, {
                "source_dialect": self.run.source_dialect, "target_dialect": self.run.target_dialect,
                "source_code": translation["source"], "target_code": base["candidate"]["source"],
                "origin": base["candidate"].get("origin", "rules"), "verdict": _verdict(base),
                "hazards": [{k: h.get(k) for k in ("kind", "message", "fixed", "line", "severity") if h.get(k) is not None}
                            for h in translation.get("hazards", [])]}))
        for ev in evaluations:
            cand = ev["candidate"]
            parent = by_id.get(cand.get("parent", ""))
            # repair: a model fix of a parent that failed to compile or validate
            if cand.get("origin") == "model-repair" and parent and _verdict(ev)["correct"]:
                pv = _verdict(parent)
                kind = "compile" if not pv["compiled"] else "validation"
                error = parent.get("compile_error") or (parent.get("validation") or {}).get("detail") or "validation failed"
                out.append(self.header("repair", kernel, {
                    "dialect": dialect, "broken_code": parent["candidate"]["source"], "error_kind": kind,
                    "error": error[:8000], "fixed_code": cand["source"], "verdict": _verdict(ev)}, model=cand.get("model", "")))
            # performance: every timed, compiled candidate
            timing = _timing(ev)
            if timing and ev.get("compiled"):
                b = ev["bench"][0]
                out.append(self.header("performance", kernel, {
                    "dialect": dialect, "code": cand["source"], "params": cand.get("params", {}),
                    "sizes": b.get("sizes", {}), "dtype": b.get("dtype", ""), "features": _resources(ev),
                    "timing": timing, "estimated": timing["method"] == "estimate"}))
        out += self._optimization(kernel, evaluations)
        out += self._preferences(kernel, evaluations, by_id)
        return out

    def _optimization(self, kernel: str, evaluations: list[dict]) -> list[dict]:
        info = self.run.kernels.get(kernel, {})
        sel_id = info.get("selected_candidate")
        base_id = info.get("base_candidate")
        if not sel_id or not base_id or sel_id == base_id:
            return []
        by_id = {ev["candidate"]["id"]: ev for ev in evaluations}
        before, after = by_id.get(base_id), by_id.get(sel_id)
        if not before or not after:
            return []
        tb, ta = _timing(before), _timing(after)
        if not tb or not ta or not _verdict(after)["correct"] or not _verdict(before)["correct"]:
            return []
        speedup = tb["median_ms"] / ta["median_ms"]
        # first-order propagation of the two spreads into the ratio
        spread = speedup * ((tb["spread_ms"] / tb["median_ms"]) + (ta["spread_ms"] / ta["median_ms"]))
        return [self.header("optimization", kernel, {
            "dialect": self.run.target_dialect, "before_code": before["candidate"]["source"],
            "after_code": after["candidate"]["source"], "before_params": before["candidate"].get("params", {}),
            "after_params": after["candidate"].get("params", {}), "speedup": speedup, "speedup_spread": spread,
            "before": {"timing": tb, "resources": _resources(before)}, "after": {"timing": ta, "resources": _resources(after)},
            "method": ta["method"], "device": ta["device"]}, model=after["candidate"].get("model", ""))]

    def _preferences(self, kernel: str, evaluations: list[dict], by_id: dict[str, dict]) -> list[dict]:
        """Pairs of model answers to the same prompt (same prompt text), ranked by verified outcome."""
        groups: dict[str, list[dict]] = {}
        for ev in evaluations:
            prompt = ev["candidate"].get("prompt", "")
            if prompt:
                groups.setdefault(hashlib.sha256(prompt.encode()).hexdigest(), []).append(ev)
        out = []
        for members in groups.values():
            if len(members) < 2:
                continue
            for i, a in enumerate(members):
                for b in members[i + 1:]:
                    ranked = _rank(a, b)
                    if ranked is None:
                        continue
                    chosen, rejected, margin, basis = ranked
                    out.append(self.header("preference", kernel, {
                        "prompt": chosen["candidate"]["prompt"], "chosen": chosen["candidate"]["source"],
                        "rejected": rejected["candidate"]["source"], "margin": margin, "ranking_basis": basis,
                        "chosen_verdict": _verdict(chosen), "rejected_verdict": _verdict(rejected)},
                        model=chosen["candidate"].get("model", "")))
        return out


def _rank(a: dict, b: dict):
    va, vb = _verdict(a), _verdict(b)
    if va["correct"] != vb["correct"]:
        return (a, b, 1.0, "correctness") if va["correct"] else (b, a, 1.0, "correctness")
    if not va["correct"]:
        return None
    ta, tb = _timing(a), _timing(b)
    if not ta or not tb:
        return None
    noise = max(ta["spread_ms"], tb["spread_ms"])
    if abs(ta["median_ms"] - tb["median_ms"]) <= noise:
        return None  # within the measured noise: no preference
    fast, slow = (a, b) if ta["median_ms"] < tb["median_ms"] else (b, a)
    tf, ts = _timing(fast)["median_ms"], _timing(slow)["median_ms"]
    return fast, slow, ts / tf - 1.0, "speed"


def build_run_records(run_dir: str | Path) -> list[dict]:
    run = open_run(run_dir)
    builder = RecordBuilder(run)
    records: list[dict] = []
    for kernel in sorted(run.kernels):
        evals = _json(run.run_dir / "results" / kernel / "evaluations.json") or []
        translate = _json(run.run_dir / "results" / kernel / "translate.json")
        ingest = _json(run.run_dir / "results" / kernel / "ingest.json")
        translation = None
        payload = (translate or {}).get("payload") or {}
        source = payload.get("source") or ((ingest or {}).get("payload") or {}).get("source", "")
        if translate and (translate.get("status") == "ok"):
            translation = {"source": source, "hazards": payload.get("hazards", [])}
        records += builder.for_kernel(kernel, evals, translation)
    return records


def write_run_records(run_dir: str | Path) -> Path:
    """Write ``emit/records.jsonl`` in the run folder (atomically) and return its path."""
    import os
    import tempfile

    run_dir = Path(run_dir)
    records = build_run_records(run_dir)
    out = run_dir / "emit" / "records.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".records-")
    with os.fdopen(fd, "w") as fh:
        for rec in records:
            fh.write(json.dumps(rec, sort_keys=True) + "\n")
    os.replace(tmp, out)
    return out
