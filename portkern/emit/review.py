"""`portkern review RUN`: re-check every claim a run makes, from scratch.

For each kernel's selected candidate (and its base when they differ) the claims are: its source is
the one the run recorded; it compiles with the target's compiler; it is correct (re-validated on
fresh seeds and on sizes it never saw); its time is what the run says (re-timed on a device where
one is present, re-estimated otherwise); and an "improved" kernel is faster than its base beyond
the measured noise. Any claim that does not hold is named.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from portkern.errors import ConfigError
from portkern.model import Record
from portkern.pipeline.runread import evaluations, load_run_library, read_rows
from portkern.search.base import Candidate
from portkern.targets import get_target

# A re-timed median may drift from the recorded one; beyond this factor of both spreads (or 10%)
# the recorded time is not what the device does.
TIMING_SLACK = 3.0


@dataclass
class ClaimCheck(Record):
    kernel: str
    candidate: str
    claim: str                # "source", "compile", "correct", "time", "improvement"
    holds: bool
    detail: str


@dataclass
class ReviewReport(Record):
    run_id: str
    checks: list[ClaimCheck] = field(default_factory=list)
    retimed_on: str = ""      # device name, or "estimate"

    @property
    def passed(self) -> bool:
        return all(c.holds for c in self.checks) and bool(self.checks)

    def failures(self) -> list[ClaimCheck]:
        return [c for c in self.checks if not c.holds]


def review_run(run_dir: str | Path, *, progress=None, require_device: bool = False) -> ReviewReport:
    from portkern.pipeline import harness_adapter
    from portkern.pipeline.stages import bench_stage, compile_stage, primary_bench

    run_dir = Path(run_dir)
    rows = read_rows(run_dir)
    run, kernels, cands = rows.run, rows.kernels, rows.candidates
    library = load_run_library(run_dir, run["library"])
    target = get_target(run["target"])
    use_device, device_note = harness_adapter.device_available(target)
    if require_device and not use_device:
        raise ConfigError(f"--device: no {target.vendor.upper()} GPU for {target.name} here ({device_note})",
                          hint="run the review where the target's GPU is, or leave out --device to re-predict")
    report = ReviewReport(run_id=run_dir.name, retimed_on=device_note if use_device else "estimate")
    say = progress or (lambda _msg: None)

    def check(kernel: str, cand: str, claim: str, holds: bool, detail: str) -> None:
        report.checks.append(ClaimCheck(kernel, cand, claim, bool(holds), detail))

    for name, row in sorted(kernels.items()):
        sel_id, base_id = row.get("selected_candidate"), row.get("base_candidate")
        if not sel_id:
            continue
        evs = evaluations(run_dir, name)
        retimed: dict[str, tuple[float, float]] = {}
        for cid in dict.fromkeys([sel_id, base_id]):
            if not cid:
                continue
            say(f"{name}: re-checking {cid}")
            stored = cands.get(cid, {})
            src_path = run_dir / (stored.get("source_path") or f"candidates/{cid}.src")
            if not src_path.exists():
                check(name, cid, "source", False, f"{src_path.relative_to(run_dir)} is missing")
                continue
            source = src_path.read_text()
            digest = hashlib.sha256(source.encode()).hexdigest()
            check(name, cid, "source", digest == stored.get("source_sha256"),
                  "matches the recorded sha256" if digest == stored.get("source_sha256")
                  else f"sha256 {digest[:12]} differs from the recorded {str(stored.get('source_sha256'))[:12]}: "
                       "the candidate changed after the run")
            params = json.loads(stored.get("params_json") or "{}")
            # A candidate launched its own way (a shrunk grid) is re-checked with its own launches.
            launched = (evs.get(cid) or {}).get("candidate") or {}
            launches, scale = launched.get("launches") or [], launched.get("size_scale") or {}
            spec = library.kernel(name)
            if launches or scale:
                spec = Candidate.from_dict({"id": cid, "kernel": name, "source": "", "launches": launches,
                                            "size_scale": scale}).kernel_spec(spec)
            try:
                compiled = compile_stage(source, spec, library, target, params, list(library.compile_flags))
            except Exception as exc:  # the claim fails; the review goes on
                check(name, cid, "compile", False, f"does not compile for {target.name}: {str(exc)[:600]}")
                continue
            check(name, cid, "compile", True, f"compiled for {target.arch}")
            validation = harness_adapter.validate(source, spec, library, target, params, compiled, use_device)
            worst = max((c.max_rel_error for c in validation.cases), default=0.0)
            check(name, cid, "correct", validation.passed,
                  f"{len(validation.cases)} fresh case(s) on {validation.device}: "
                  + ("all pass" if validation.passed else f"{validation.failure}: {validation.detail[:400]}")
                  + f" (max rel err {worst:.3g})")
            if not validation.passed:
                continue
            bench = bench_stage(spec, library, target, params, compiled, use_device, full=False, source=source)
            results = bench if isinstance(bench, dict) else bench.payload
            claimed = float(stored.get("score_ms") or (evs.get(cid) or {}).get("score_ms") or 0.0)
            claimed_spread = float(stored.get("spread_ms") or 0.0)
            now, spread = float(results.get("score_ms") or 0.0), float(results.get("spread_ms") or 0.0)
            retimed[cid] = (now, spread)
            tolerance = max(TIMING_SLACK * (claimed_spread + spread), 0.10 * claimed)
            recorded = _recorded_primary(evs.get(cid) or {}, claimed)
            if results.get("method") == "estimate":
                tolerance = 1e-6 * max(claimed, 1e-9)  # a prediction is deterministic: it must reproduce
            elif recorded.get("method") == "estimate":
                # A predicted claim timed on a device: the measurement must fall in the predicted interval.
                lo, hi = float(recorded.get("predicted_lo_ms") or 0.0), float(recorded.get("predicted_hi_ms") or 0.0)
                check(name, cid, "prediction", hi > 0 and lo <= now <= hi,
                      f"predicted {claimed:.4g} ms (90% interval {lo:.4g}-{hi:.4g}), measured {now:.4g} ms "
                      f"± {spread:.2g} on {device_note}")
                retimed[cid] = (now, spread)
                continue
            holds = claimed > 0 and abs(now - claimed) <= tolerance
            check(name, cid, "time", holds,
                  f"recorded {claimed:.4g} ms, now {now:.4g} ms ± {spread:.2g} ({results.get('method')})")
            _ = primary_bench  # the stage picks the primary size the same way the run did
        if row.get("status") == "improved" and sel_id != base_id and sel_id in retimed and base_id in retimed:
            (s_ms, s_sp), (b_ms, b_sp) = retimed[sel_id], retimed[base_id]
            holds = s_ms < b_ms - max(s_sp, b_sp)
            check(name, sel_id, "improvement", holds,
                  f"{b_ms:.4g} ms -> {s_ms:.4g} ms ({b_ms / s_ms if s_ms else 0:.2f}x; noise {max(s_sp, b_sp):.2g} ms)")
    return report


def _recorded_primary(evaluation: dict[str, Any], score_ms: float) -> dict[str, Any]:
    """The recorded timing the candidate's score came from (the bench entry at the score), or {}."""
    bench = evaluation.get("bench") or []
    for b in bench:
        if abs(float(b.get("median_ms") or 0.0) - score_ms) <= 1e-9 * max(score_ms, 1e-12):
            return b
    return bench[0] if bench else {}
