"""Build fine-tuning records from a finished run (run folder + store rows).

Record types: translation, repair, optimization, preference, performance (``datasets/schema``).
Every record is schema-checked before it is written; a run with nothing verified yields few records,
never invented ones. What each type means:

- translation: the kernel as the library wrote it (source dialect) -> the translated unit that compiled
  and passed validation. A pair whose two sides are the same text (up to comments and whitespace) is
  never emitted. Translations that failed validation, or carry hazards the rules could not fix, are
  kept with ``verified: false`` and the reason: hard cases.
- repair: a failing candidate + its error -> the model's fix that passed validation.
- optimization: the library's own candidate -> the selected faster one, with the speedup, its spread,
  whether the times were measured or predicted, and what changed (parameters, operators, model rewrite).
  Only speedups beyond the timing noise are records.
- preference: two answers to one prompt, ranked by a measured outcome (validation, or device timings
  further apart than their spreads); roofline estimates never rank.
- performance: a compiled candidate, its compile-time features and its time, labelled ``measured``
  (device events) or ``predicted`` (roofline estimate).

Every record carries the same provenance: run id, library, kernel, family, source file and its sha256,
licence, source and target dialect, target GPU, toolchain, device and date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from portkern import __version__
from portkern.dataset.schema import validate_record
from portkern.dataset.text import normalize_source
from portkern.fsio import write_text
from portkern.pipeline.runread import read_rows

REPO = Path(__file__).resolve().parent.parent.parent
MEASURED, PREDICTED = "measured", "predicted"


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
    date: str = ""
    kernels: dict[str, dict[str, Any]] = field(default_factory=dict)  # kernel -> {family, file, license, ...}


def _json(path: Path) -> Any:
    return json.loads(path.read_text()) if path.exists() else None


def open_run(run_dir: str | Path) -> RunView:
    run_dir = Path(run_dir).resolve()
    rows = read_rows(run_dir)
    row, kernels = rows.run, rows.kernels
    run_id = run_dir.name
    manifest = run_dir / "inputs" / "library.yaml"
    license_id, entries = "NOASSERTION", {}
    if manifest.exists():
        data = yaml.safe_load(manifest.read_text()) or {}
        license_id = str(data.get("license") or "NOASSERTION")
        entries = {k.get("name"): k for k in data.get("kernels", []) if isinstance(k, dict)}
    for name, info in kernels.items():
        entry = entries.get(name, {})
        info["file"] = str(entry.get("file", ""))
        info["license"] = str(entry.get("license") or license_id)  # a kernel's own licence, else the library's
    return RunView(run_id=run_id, run_dir=run_dir, library=row["library"], target=row["target"],
                   source_dialect=row["source_dialect"], target_dialect=row["target_dialect"], license=license_id,
                   compilers=json.loads(row["toolchain_json"] or "{}"), date=str(row.get("started_at") or ""),
                   kernels=kernels)


def timing_kind(method: str) -> str:
    return MEASURED if method == "device-events" else PREDICTED


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


def same_code(a: str, b: str) -> bool:
    """Equal up to comments and whitespace: such a pair would teach the identity function."""
    return normalize_source(a) == normalize_source(b)


def _change(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What made the faster candidate: changed parameters, a rewritten source, the operators the search
    applied (candidate notes) and the model when one wrote it."""
    bp, ap = before.get("params", {}), after.get("params", {})
    params = {k: [bp.get(k), ap.get(k)] for k in sorted(set(bp) | set(ap)) if bp.get(k) != ap.get(k)}
    rewritten = not same_code(before.get("source", ""), after.get("source", ""))
    origin = after.get("origin", "")
    if rewritten and origin.startswith("model"):
        kind = "model-rewrite"
    elif rewritten:
        kind = "source-rewrite"
    else:
        kind = "parameters"
    parts = [f"{k} {v[0]} -> {v[1]}" for k, v in params.items()]
    if rewritten:
        parts.append(f"source rewritten ({origin or 'unknown origin'}"
                     + (f", model {after['model']}" if after.get("model") else "") + ")")
    parts += [f"{k} launched with 1/{f} of the blocks in x" for k, f in sorted((after.get("grid_shrink") or {}).items())]
    return {"kind": kind, "origin": origin, "params": json.dumps(params, sort_keys=True),
            "operators": [str(n) for n in after.get("notes", [])], "description": "; ".join(parts) or "no change"}


class RecordBuilder:
    def __init__(self, run: RunView):
        self.run = run
        self.created_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        self.versions = {"portkern": __version__, "git_revision": git_revision(), "compilers": run.compilers}
        self.skipped: dict[str, int] = {}

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def header(self, kind: str, kernel: str, body: dict[str, Any], *, device: str, model: str = "",
               file_sha256: str = "") -> dict[str, Any]:
        info = self.run.kernels.get(kernel, {})
        versions = dict(self.versions)
        if model:
            versions["model"] = model
        prov = {"run_id": self.run.run_id, "library": self.run.library, "kernel": kernel,
                "family": info.get("family") or kernel, "file": info.get("file") or "unknown",
                "file_sha256": file_sha256 or "unknown", "license": info.get("license") or self.run.license,
                "source_dialect": self.run.source_dialect, "target_dialect": self.run.target_dialect,
                "target": self.run.target, "toolchain": json.dumps(self.run.compilers, sort_keys=True),
                "device": device or "none", "date": self.run.date or self.created_at}
        rec = {"record_type": kind, "run_id": self.run.run_id, "target": self.run.target, "provenance": prov,
               "versions": versions, "created_at": self.created_at, **body}
        # the id names the content and where it came from, not when it was built
        ident = {k: v for k, v in rec.items() if k not in ("created_at", "versions", "provenance")}
        ident["provenance"] = {k: v for k, v in prov.items() if k != "date"}
        rec["record_id"] = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()
        validate_record(rec)
        return rec

    def for_kernel(self, kernel: str, evaluations: list[dict[str, Any]], translation: dict[str, Any] | None,
                   file_sha256: str = "") -> list[dict]:
        out: list[dict] = []
        by_id = {ev["candidate"]["id"]: ev for ev in evaluations}
        base = evaluations[0] if evaluations else None
        dialect = self.run.target_dialect
        h = {"file_sha256": file_sha256}
        if translation and base:
            rec = self._translation(kernel, translation, base, h)
            if rec:
                out.append(rec)
        for ev in evaluations:
            cand = ev["candidate"]
            parent = by_id.get(cand.get("parent", ""))
            verdict = _verdict(ev)
            # repair: a model fix of a parent that failed to compile or validate
            if cand.get("origin") == "model-repair" and parent and verdict["correct"]:
                pv = _verdict(parent)
                if pv["correct"] or same_code(parent["candidate"]["source"], cand["source"]):
                    self.skip("repair without a failing parent or a change")
                else:
                    kind = "compile" if not pv["compiled"] else "validation"
                    error = (parent.get("compile_error") or (parent.get("validation") or {}).get("detail")
                             or "validation failed")
                    out.append(self.header("repair", kernel, {
                        "dialect": dialect, "broken_code": parent["candidate"]["source"], "error_kind": kind,
                        "error": error[:8000], "fixed_code": cand["source"], "verdict": verdict},
                        device=verdict["validation_device"], model=cand.get("model", ""), **h))
            # performance: every timed, compiled candidate
            timing = _timing(ev)
            if timing and ev.get("compiled"):
                b = ev["bench"][0]
                out.append(self.header("performance", kernel, {
                    "dialect": dialect, "code": cand["source"], "params": cand.get("params", {}),
                    "sizes": b.get("sizes", {}), "dtype": b.get("dtype", ""), "features": _resources(ev),
                    "timing": timing, "timing_kind": timing_kind(timing["method"]), "correct": verdict["correct"]},
                    device=timing["device"], **h))
        out += self._optimization(kernel, evaluations, h)
        out += self._preferences(kernel, evaluations, h)
        return out

    def model_calls(self, calls: list[dict[str, Any]]) -> list[dict]:
        """One record per model call of the run (``model/calls.json``), whatever became of it."""
        out = []
        for call in calls:
            if not call.get("prompt") or call.get("kernel") not in self.run.kernels:
                self.skip("model call without a prompt or a kernel of the run")
                continue
            body = {k: call.get(k, d) for k, d in (("call_id", ""), ("kind", ""), ("model", ""), ("prompt", ""),
                                                    ("reply", ""), ("params", {}), ("outcome", "not evaluated"),
                                                    ("cut", ""), ("reject_reason", ""), ("error", ""),
                                                    ("candidate", ""), ("tokens_in", 0), ("tokens_out", 0),
                                                    ("seconds", 0.0), ("cached", False))}
            out.append(self.header("model_call", call["kernel"], body, device="none", model=call.get("model", "")))
        return out

    def _translation(self, kernel: str, translation: dict[str, Any], base: dict[str, Any],
                     h: dict[str, str]) -> dict | None:
        original = translation.get("original") or ""
        translated = base["candidate"].get("source") or translation.get("translated") or ""
        if not original or not translated:
            self.skip("translation without both sides")
            return None
        if same_code(original, translated):
            self.skip("translation identical to its source")
            return None
        verdict = _verdict(base)
        hazards = [{k: x.get(k) for k in ("kind", "message", "fixed", "line", "severity") if x.get(k) is not None}
                   for x in translation.get("hazards", [])]
        open_hazards = sorted({str(x.get("kind", "?")) for x in hazards if not x.get("fixed", False)})
        reasons = []
        if not verdict["compiled"]:
            reasons.append("does not compile for the target")
        elif not verdict["correct"]:
            reasons.append("fails validation" + (f" on {verdict['validation_device']}"
                                                 if verdict["validation_device"] else ""))
        if open_hazards:
            reasons.append(f"hazards the rules could not fix: {', '.join(open_hazards)}")
        return self.header("translation", kernel, {
            "source_dialect": self.run.source_dialect, "target_dialect": self.run.target_dialect,
            "source_code": original, "target_code": translated, "origin": base["candidate"].get("origin", "rules"),
            "verdict": verdict, "hazards": hazards, "verified": not reasons, "hard_case_reason": "; ".join(reasons)},
            device=verdict["validation_device"], **h)

    def _optimization(self, kernel: str, evaluations: list[dict], h: dict[str, str]) -> list[dict]:
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
        if tb["method"] != ta["method"]:
            self.skip("optimization timed by two methods")
            return []
        speedup = tb["median_ms"] / ta["median_ms"]
        # first-order propagation of the two spreads into the ratio
        spread = speedup * ((tb["spread_ms"] / tb["median_ms"]) + (ta["spread_ms"] / ta["median_ms"]))
        if speedup - spread <= 1.0:
            self.skip("optimization within the timing noise")
            return []
        return [self.header("optimization", kernel, {
            "dialect": self.run.target_dialect, "before_code": before["candidate"]["source"],
            "after_code": after["candidate"]["source"], "before_params": before["candidate"].get("params", {}),
            "after_params": after["candidate"].get("params", {}), "speedup": speedup, "speedup_spread": spread,
            "before": {"timing": tb, "resources": _resources(before)}, "after": {"timing": ta, "resources": _resources(after)},
            "method": ta["method"], "timing_kind": timing_kind(ta["method"]), "device": ta["device"],
            "change": _change(before["candidate"], after["candidate"])},
            device=ta["device"], model=after["candidate"].get("model", ""), **h)]

    def _preferences(self, kernel: str, evaluations: list[dict], h: dict[str, str]) -> list[dict]:
        """Pairs of model answers to the same prompt (same prompt text), ranked by a measured outcome."""
        groups: dict[str, list[dict]] = {}
        for ev in evaluations:
            prompt = ev["candidate"].get("prompt", "")
            if prompt:
                groups.setdefault(hashlib.sha256(prompt.encode()).hexdigest(), []).append(ev)
        out = []
        for members in groups.values():
            for i, a in enumerate(members):
                for b in members[i + 1:]:
                    if same_code(a["candidate"]["source"], b["candidate"]["source"]):
                        continue
                    ranked = _rank(a, b)
                    if ranked is None:
                        self.skip("preference pair without a measured difference")
                        continue
                    chosen, rejected, margin, basis = ranked
                    cv = _verdict(chosen)
                    device = (_timing(chosen) or {}).get("device", "") if basis == "speed" else cv["validation_device"]
                    out.append(self.header("preference", kernel, {
                        "prompt": chosen["candidate"]["prompt"], "chosen": chosen["candidate"]["source"],
                        "rejected": rejected["candidate"]["source"], "margin": margin, "ranking_basis": basis,
                        "chosen_verdict": cv, "rejected_verdict": _verdict(rejected)},
                        device=device, model=chosen["candidate"].get("model", ""), **h))
        return out


def _rank(a: dict, b: dict):
    """(chosen, rejected, margin, basis), or None when no measurement tells the two apart.

    Validation is a measurement: a correct answer beats an incorrect one. Between two correct answers
    only device timings rank (a roofline estimate is a prediction), and only when the medians lie
    further apart than the two spreads together.
    """
    va, vb = _verdict(a), _verdict(b)
    if va["correct"] != vb["correct"]:
        return (a, b, 1.0, "correctness") if va["correct"] else (b, a, 1.0, "correctness")
    if not va["correct"]:
        return None
    ta, tb = _timing(a), _timing(b)
    if not ta or not tb or ta["method"] != "device-events" or tb["method"] != "device-events":
        return None
    if abs(ta["median_ms"] - tb["median_ms"]) <= ta["spread_ms"] + tb["spread_ms"]:
        return None  # within the measured noise: no preference
    fast, slow = (a, b) if ta["median_ms"] < tb["median_ms"] else (b, a)
    tf, ts = _timing(fast)["median_ms"], _timing(slow)["median_ms"]
    return fast, slow, ts / tf - 1.0, "speed"


def build_run_records(run_dir: str | Path, skipped: dict[str, int] | None = None) -> list[dict]:
    """Every record of one run; ``skipped`` (when given) counts what was left out and why."""
    run = open_run(run_dir)
    builder = RecordBuilder(run)
    records: list[dict] = []
    for kernel in sorted(run.kernels):
        results = run.run_dir / "results" / kernel
        evals = _json(results / "evaluations.json") or []
        translate = _json(results / "translate.json")
        ingest = ((_json(results / "ingest.json") or {}).get("payload") or {})
        translation = None
        if translate and translate.get("status") == "ok":
            payload = translate.get("payload") or {}
            # the original side is what ingest read from the library, never the translator's output
            translation = {"original": ingest.get("source", ""), "translated": payload.get("source", ""),
                           "hazards": payload.get("hazards", [])}
        records += builder.for_kernel(kernel, evals, translation, file_sha256=ingest.get("file_sha256", ""))
    records += builder.model_calls(_json(run.run_dir / "model" / "calls.json") or [])
    if skipped is not None:
        for why, n in builder.skipped.items():
            skipped[why] = skipped.get(why, 0) + n
    return records


def write_run_records(run_dir: str | Path) -> Path:
    """Write ``emit/records.jsonl`` in the run folder (atomically, with the umask's mode) and return its path."""
    run_dir = Path(run_dir)
    records = build_run_records(run_dir)
    out = run_dir / "emit" / "records.jsonl"
    write_text(out, "".join(json.dumps(rec, sort_keys=True) + "\n" for rec in records))
    return out
