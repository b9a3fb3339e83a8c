"""What refine and evolve share: per-kernel state, and the operator search (operator sequences and
tunable values, ``portkern.search.operator_search``) when no model is reachable."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portkern.llm.connect import no_server_message
from portkern.search.base import Candidate, Evaluation, SearchContext, Strategy
from portkern.search.budget import Budget, BudgetTracker


@dataclass
class ModelState:
    """Per-kernel state every model-driven strategy keeps; strategies extend it."""

    tracker: BudgetTracker
    counter: int = 0                     # candidates proposed (numbers their ids)
    base_proposed: bool = False
    skip_noted: bool = False             # the no-model note was written
    seeds_proposed: bool = False         # the operators' suggested points were proposed (with a model)
    seed_ids: tuple[str, ...] = ()
    done: bool = False


class ModelDrivenStrategy(Strategy):
    state_class: type = ModelState
    needs_model = True

    def __init__(self, *, noise_factor: float, llm_config: dict | None) -> None:
        self.noise_factor = noise_factor
        self.llm_config = llm_config
        self.fallback = self.operator_search()
        self._states: dict[str, Any] = {}

    def _state(self, ctx: SearchContext) -> Any:
        name = ctx.kernel.name
        if name not in self._states:
            self._states[name] = self.state_class(tracker=BudgetTracker(Budget.from_dict(ctx.budget)))
        return self._states[name]

    def operator_search(self) -> Any:
        """The strategy's search over operator sequences and tunables, used when no model is reachable."""
        raise NotImplementedError

    def _operator_seeds(self, ctx: SearchContext, st: Any, history: list[Evaluation]) -> list[Candidate]:
        """Once, when the base is correct: the operators' suggested points for this kernel (tile-gemm's
        block tiles on a gemm, say), so a run with a model server still tries the rewrites built for the
        kernel. They take at most half of the candidates left; the model's rewrites get the rest and
        start from whichever is best."""
        if st.seeds_proposed:
            return []
        st.seeds_proposed = True
        base = next((ev for ev in history if ev.candidate.id == ctx.base.id), None)
        if base is None or not base.correct:
            return []
        from portkern.search.genome import candidate, realise, seeds

        out: list[Candidate] = []
        room = st.tracker.candidates_left() // 2
        for genome in seeds(ctx):
            if len(out) >= room:
                break
            applied = realise(ctx, genome)
            if applied is None:
                continue
            st.counter += 1
            st.tracker.candidates += 1
            out.append(candidate(ctx, genome, applied, f"{ctx.kernel.name}/operator-{st.counter}", ctx.base.id,
                                 "an operator's suggested point"))
        if out:
            st.seed_ids = tuple(c.id for c in out)
            ctx.notes.append(f"{self.name}: {len(out)} operator suggested point(s) first: "
                             + ", ".join(c.id for c in out))
        return out

    def _without_model(self, ctx: SearchContext, st: Any, history: list[Evaluation]) -> list[Candidate] | None:
        """The operator search's proposals when no model server is reachable (noted once), else None."""
        if ctx.llm is not None:
            return None
        if not st.skip_noted:
            st.skip_noted = True
            ctx.skipped.append(f"{self.name}: {no_server_message(self.llm_config)}")
            ctx.notes.append(f"{self.name}: no model; searching transformation operators and tunables instead")
        return self.fallback.propose(ctx, history)
