"""The search driver: after each round's join, ask the strategy for candidates and grow the graph;
when a kernel has nothing left to try, select its best correct candidate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portkern.errors import PortkernError
from portkern.library import LibrarySpec
from portkern.model import Target
from portkern.pipeline.dag import StageResult, Task
from portkern.pipeline.plan import GraphPlan, KernelState
from portkern.search.budget import run_budget

MAX_ROUNDS = 64  # a strategy that never says "done" still ends


class SearchDriver:
    def __init__(self, plan: GraphPlan, *, strategy: Any, strategy_name: str, budget: int,
                 search_config: dict[str, Any], llm: Any = None, on_sources: Any = None, progress: Any = None,
                 forecasts: int = 0):
        self.plan = plan
        self.strategy = strategy
        self.strategy_name = strategy_name
        self.budget = budget
        self.search_config = dict(search_config)
        self.llm = llm
        self.forecasts_left = forecasts   # model-server time forecasts this run may still ask for
        self.on_sources = on_sources          # called with each round's evaluations (the run folder keeps them)
        self.progress = progress

    @property
    def library(self) -> LibrarySpec:
        return self.plan.library

    @property
    def target(self) -> Target:
        return self.plan.target

    def next_round(self, task: Task, res: StageResult) -> None:
        """Fold a round's evaluations into the kernel's history and add the next round, if any."""
        from portkern.search.base import Evaluation

        state = self.plan.states[task.kernel]
        evaluations = [Evaluation.from_dict(e) for e in res.payload.get("evaluations", [])]
        if self.on_sources:
            self.on_sources(evaluations)
        self._forecast(state, evaluations)
        state.history.extend(evaluations)
        state.ruled_out += sum(1 for ev in evaluations if ev.prediction and not ev.prediction.get("kept", True))
        if state.round == 1:
            state.base = evaluations[0].candidate if evaluations else None
            state.hazards = [h for h in res.payload.get("hazards") or [] if not h.get("fixed", False)]
            state.original_source = res.payload.get("original_source") or ""
        proposals, why = self.propose(state)
        res.payload["proposed"] = [c.id for c in proposals]
        if not proposals:
            state.done = True
            state.end_reason = why
            res.reason = f"search ended: {why}"
            self.progress.kernel(task.kernel, "selecting")
            return
        res.reason = f"round {state.round}: {len(proposals)} new candidate(s)"
        self.plan.add_round(state, proposals)
        self.progress.kernel(task.kernel, f"round {state.round}: {len(state.history)} evaluated")

    def _forecast(self, state: KernelState, evaluations: list) -> None:
        """With perfmodel.llm_forecast on and a model server, the model's forecast of each predicted
        candidate's time, kept in its prediction (``forecast_ms``) for `portkern model eval`."""
        from portkern.perfmodel import forecast

        if self.llm is None:
            return
        for ev in evaluations:
            if self.forecasts_left <= 0:
                return
            if not ev.prediction or "forecast_ms" in ev.prediction:
                continue
            self.forecasts_left -= 1
            value = forecast.ask(self.llm, state.kernel, self.target, ev)
            if value is not None:
                ev.prediction["forecast_ms"] = value

    def propose(self, state: KernelState) -> tuple[list, str]:
        """The next candidates of a kernel, or none and why the search ends."""
        from portkern.search.base import SearchContext

        if self.strategy is None:
            return [], "no search strategy installed"
        base_ev = state.history[0] if state.history else None
        if base_ev is None or not base_ev.candidate.source:
            return [], f"the base candidate has no source ({state.source_task} did not produce one)"
        if not base_ev.compiled and not base_ev.compile_error:
            return [], "the base candidate was not compiled (a stage before compile failed)"
        if state.round >= MAX_ROUNDS:
            return [], f"round limit ({MAX_ROUNDS}) reached"
        left = self.budget - state.proposed
        if left <= 0:
            return [], f"candidate budget spent ({state.proposed}/{self.budget})"
        if state.ctx is None:
            search_cfg = {**self.search_config, **run_budget(self.budget, self.search_config)}
            state.ctx = SearchContext(kernel=state.kernel, library=self.library, target=self.target,
                                      dialect=self.target.dialect, base=state.base, hazards=state.hazards,
                                      budget={k: v for k, v in search_cfg.items() if k != "strategy"},
                                      llm=self.llm)
            if hasattr(state.ctx, "original_source"):
                state.ctx.original_source = state.original_source
        try:
            proposals = list(self.strategy.propose(state.ctx, list(state.history)))[:left]
        except PortkernError as exc:
            return [], f"strategy failed: {exc}"
        fresh = []
        for cand in proposals:
            if cand.id in state.candidate_ids:
                cand.id = f"{cand.id}.{state.round}"
            if cand.id in state.candidate_ids:
                continue
            fresh.append(cand)
        state.proposed += len(fresh)
        if not fresh:
            notes = getattr(state.ctx, "notes", [])
            return [], (notes[-1] if notes else f"strategy '{self.strategy_name}' has nothing more to try")
        state.gate = self.gate(state)
        return fresh, ""

    @staticmethod
    def gate(state: KernelState) -> dict | None:
        """The reference new candidates must be able to beat: the best correct candidate so far, by its
        prediction at the primary bench point (the performance model rules out the hopeless ones)."""
        from portkern.search.base import best

        ref = best(state.history)
        if ref is None or not ref.prediction or ref.prediction.get("ms", 0) <= 0:
            return None
        return {"ref_ms": float(ref.prediction["ms"]), "ref_id": ref.candidate.id}


# --------------------------------------------------------------------------- selection


@dataclass
class Selection:
    """A kernel's outcome: the base, the winner (best correct candidate) and the verdict."""

    kernel: str
    status: str                          # improved | ported | incorrect | failed
    reason: str
    base: Any = None                     # search.base.Evaluation of the base candidate
    winner: Any = None                   # search.base.Evaluation selected, or None
    failures: dict[str, StageResult | None] | None = None   # candidate id -> its first failed stage

    @property
    def base_ms(self) -> float | None:
        return self.base.score_ms if self.base is not None and self.base.score_ms > 0 else None

    @property
    def selected_ms(self) -> float | None:
        return self.winner.score_ms if self.winner is not None else None

    @property
    def speedup(self) -> float | None:
        return (self.base_ms / self.selected_ms) if self.base_ms and self.selected_ms else None

    @property
    def timing_method(self) -> str:
        return self.winner.bench[0].method if self.winner is not None and self.winner.bench else ""

    def result(self, candidates: int) -> StageResult:
        """The select stage's own result row."""
        w = self.winner
        cause = "" if w else ("no-correct-candidate" if self.status == "incorrect" else "upstream")
        return StageResult(stage="select", task=f"{self.kernel}/select", kernel=self.kernel,
                           status="ok" if w else "failed", cause=cause, reason=self.reason,
                           payload={"selected": w.candidate.id if w else "", "status": self.status,
                                    "candidates": candidates})


def first_failure(results: dict[str, StageResult], cid: str) -> StageResult | None:
    k = cid.split("/")[0]
    for task in (f"{k}/ingest", f"{k}/translate", f"{cid}.compile", f"{cid}.validate", f"{cid}.bench"):
        r = results.get(task)
        if r is not None and r.status == "failed":
            return r
    return None


def select(state: KernelState, results: dict[str, StageResult]) -> Selection:
    from portkern.search.base import best

    k = state.kernel.name
    history = state.history
    base = history[0] if history else None
    winner = best(history)
    if winner is None:
        first_fail = first_failure(results, base.candidate.id) if base else None
        status = "failed" if first_fail and first_fail.stage in ("ingest", "translate", "compile") else "incorrect"
        reason = (f"{first_fail.stage}: {first_fail.cause}: {headline(first_fail.reason)}"
                  if first_fail and first_fail.reason else "no correct candidate")
        if base is None:
            status, reason = "failed", state.end_reason or "nothing was evaluated"
    elif base is not None and winner.candidate.id != base.candidate.id:
        status = "improved"
        if predicted(winner):
            s = base.score_ms / winner.score_ms
            margin = 1.0 - winner.spread_ms / winner.score_ms if winner.score_ms else 0.0
            reason = (f"{winner.candidate.id}: predicted {s:.2f}x, the whole 90% interval of the predicted "
                      f"speedup above 1.0x (from {s * margin:.2f}x); not measured")
        else:
            reason = f"{winner.candidate.id} beats the base beyond the measured spread"
    elif predicted(winner):
        status, reason = "ported", "no candidate is predicted faster with its whole 90% interval above 1.0x"
    else:
        status, reason = "ported", "no candidate beat the base beyond the measured spread"
    failures = {ev.candidate.id: first_failure(results, ev.candidate.id) for ev in history}
    return Selection(kernel=k, status=status, reason=reason, base=base, winner=winner, failures=failures)


def predicted(ev) -> bool:
    return bool(ev is not None and ev.bench and ev.bench[0].method == "estimate")


def headline(text: str, limit: int = 300) -> str:
    """The line of an error text worth a table cell: the first compiler error, else the first line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    pick = next((ln for ln in lines if "error:" in ln or "error " in ln.lower()[:20]), lines[0] if lines else "")
    return pick[:limit]
