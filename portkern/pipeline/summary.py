"""The run summary: stage counts, failures and skips by cause, notes, and each kernel's outcome.

Built once from what the run holds in memory (stage results, kernel states, selections); nothing is
read back from the store.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from portkern.pipeline.dag import StageResult
from portkern.pipeline.kernels import primary_dtype
from portkern.pipeline.store import utc_now
from portkern.search.outcomes import model_summary


class StageCounts:
    """Per-stage counts of statuses, failure and skip causes, the reasons worth reading, cache use."""

    def __init__(self) -> None:
        self.stages: dict[str, Counter] = defaultdict(Counter)
        self.failures: dict[str, Counter] = defaultdict(Counter)
        self.skips: dict[str, Counter] = defaultdict(Counter)
        self.reasons: dict[str, Counter] = defaultdict(Counter)
        self.cached = 0
        self.computed = 0

    def add(self, r: StageResult) -> None:
        self.stages[r.stage][r.status] += 1
        if r.cached:
            self.cached += 1
            self.stages[r.stage]["cached"] += 1
        elif r.cache_key:
            self.computed += 1
        if r.status == "failed":
            self.failures[r.stage][r.cause or "error"] += 1
        elif r.status == "skipped":
            self.skips[r.stage][r.cause or "skipped"] += 1
        # Dependency skips are counted by cause above; the reasons worth reading are the others.
        if r.status in ("skipped", "estimated") and r.reason and r.cause != "dependency-failed":
            self.reasons[r.stage][r.reason.splitlines()[0][:200]] += 1

    def to_dict(self) -> dict[str, Any]:
        return {"stages": {s: dict(c) for s, c in self.stages.items()},
                "failures": {s: dict(c) for s, c in self.failures.items()},
                "skips": {s: dict(c) for s, c in self.skips.items()},
                "reasons": {s: dict(c) for s, c in self.reasons.items()},
                "cache": {"cached": self.cached, "computed": self.computed}}


def notes(run: Any, device_reason: str) -> list[str]:
    """What the run did not do, or did another way, and why (one line each)."""
    library, target, states = run.library, run.target, run.plan.states
    out = list(run.notes)
    if library.dialect == target.dialect:
        out.append(f"translate: not needed ({library.name} is {library.dialect.upper()}, "
                   f"{target.name} compiles {target.dialect.upper()})")
    if run.use_device:
        out.append(f"validate, bench: on the {target.display_name} ({device_reason})")
    else:
        out.append(f"validate: on the CPU emulator at wave{target.wavefront} ({device_reason})")
        out.append(f"bench: predicted, not measured (no {target.vendor.upper()} GPU)")
    from portkern.perfmodel.predict import current_model, describe

    out.append(describe(current_model(target), target))
    ruled = {k: st.ruled_out for k, st in states.items() if st.ruled_out}
    if ruled:
        out.append(f"search: the performance model ruled out {sum(ruled.values())} candidate(s) of {len(ruled)} "
                   f"kernel(s) (whole predicted interval slower than the best so far): compiled, not validated "
                   f"or timed")
    return out


def model_entry(run: Any) -> dict[str, Any] | None:
    """Every model call of the run and its outcome (None when the strategy uses no model)."""
    if getattr(run, "recorder", None) is None:
        return None
    evaluations = {ev.candidate.id: ev for st in run.plan.states.values() for ev in st.history}
    llm = getattr(run, "llm", None)
    return model_summary(run.recorder.calls, evaluations, model=llm.model if llm is not None else "")


def model_note(model: dict[str, Any] | None) -> list[str]:
    """One line on the model calls, for the summary's notes."""
    if not model or not model["calls"]:
        return []
    outcomes = ", ".join(f"{n} {o}" for o, n in sorted(model["outcomes"].items(), key=lambda x: (-x[1], x[0])))
    cut = f", {model['cut']} cut at a limit" if model["cut"] else ""
    return [f"model: {model['calls']} call(s) to {model['model'] or 'the model'} in {model['seconds']:.1f} s, "
            f"{model['tokens_out']} tokens out{cut}: {outcomes}"]


def kernel_entries(states: dict[str, Any], selections: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for k, st in states.items():
        s = selections.get(k)
        out.append({"kernel": k, "status": s.status if s else "not-run", "candidates": len(st.history),
                    "base_ms": s.base_ms if s else None,
                    "selected": (s.winner.candidate.id if s and s.winner else None),
                    "selected_ms": s.selected_ms if s else None, "speedup": s.speedup if s else None,
                    "timing_method": s.timing_method if s else "", "reason": s.reason if s else "",
                    "search_end": st.end_reason, "primary_dtype": primary_dtype(st.kernel)})
    return out


def build_summary(run: Any, counts: StageCounts, selections: dict[str, Any], *, toolchain: dict[str, str],
                  device_reason: str, wall_s: float) -> dict[str, Any]:
    """The summary of a PortRun (pipeline.run) whose stages are counted in ``counts``."""
    model = model_entry(run)
    return {
        "run_id": run.run_id, "library": run.library.name, "target": run.target.name,
        "run_dir": str(run.folder.path), "store": str(run.store.path), "finished_at": utc_now(),
        "executor": run.options.executor, "strategy": run.options.strategy, "budget": run.options.budget,
        "use_device": run.use_device, "toolchain": toolchain,
        **counts.to_dict(),
        "notes": notes(run, device_reason) + model_note(model),
        "kernels": kernel_entries(run.plan.states, selections), "model": model,
        "wall_seconds": round(wall_s, 3),
    }
