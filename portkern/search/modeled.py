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

    def _without_model(self, ctx: SearchContext, st: Any, history: list[Evaluation]) -> list[Candidate] | None:
        """The operator search's proposals when no model server is reachable (noted once), else None."""
        if ctx.llm is not None:
            return None
        if not st.skip_noted:
            st.skip_noted = True
            ctx.skipped.append(f"{self.name}: {no_server_message(self.llm_config)}")
            ctx.notes.append(f"{self.name}: no model; searching transformation operators and tunables instead")
        return self.fallback.propose(ctx, history)
