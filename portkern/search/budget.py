"""Search budgets: candidates, model calls, GPU seconds, wall time.

Limits come from ``SearchContext.budget`` (keys as in the ``search`` config section); anything not
given falls back to the configured defaults. ``--budget N`` bounds all of them together per kernel
(``run_budget``): N candidates, at most two model calls per candidate (a reply may be rejected),
and a wall time of ``WALL_SECONDS_PER_CANDIDATE`` per candidate and the base, each no more than
configured. A strategy asks ``exhausted()`` before each proposal, clips what it proposes to
``candidates_left()``, and gives a model call no more time than ``wall_seconds_left()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from portkern.search.base import Evaluation

MODEL_CALLS_PER_CANDIDATE = 2
WALL_SECONDS_PER_CANDIDATE = 240.0


@dataclass
class Budget:
    max_candidates: int = 16
    max_model_calls: int = 16
    max_gpu_seconds: float = 300.0
    max_wall_seconds: float = 1800.0

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Budget:
        data = data or {}
        kwargs = {f.name: type(getattr(cls, f.name))(data[f.name]) for f in fields(cls) if f.name in data}
        return cls(**kwargs)


def run_budget(candidates: int, search_config: dict[str, Any] | None = None) -> dict[str, float]:
    """The per-kernel limits of ``--budget candidates``: candidates, model calls and wall time together
    (never more than ``search_config`` allows), GPU seconds as configured."""
    configured = Budget.from_dict({k: v for k, v in (search_config or {}).items() if k != "strategy"})
    n = max(0, int(candidates))
    return {"max_candidates": n,
            "max_model_calls": min(configured.max_model_calls, MODEL_CALLS_PER_CANDIDATE * n),
            "max_gpu_seconds": configured.max_gpu_seconds,
            "max_wall_seconds": min(configured.max_wall_seconds, WALL_SECONDS_PER_CANDIDATE * (n + 1))}


class BudgetTracker:
    """Spending of one strategy on one kernel."""

    def __init__(self, budget: Budget, clock: Callable[[], float] = time.monotonic) -> None:
        self.budget = budget
        self.clock = clock
        self.started = clock()
        self.candidates = 0                  # proposed by this strategy (the base is not counted)
        self.model_calls = 0

    def wall_seconds(self) -> float:
        return self.clock() - self.started

    @staticmethod
    def gpu_seconds(history: list[Evaluation]) -> float:
        return sum(ev.gpu_seconds for ev in history)

    def wall_seconds_left(self) -> float:
        return max(0.0, self.budget.max_wall_seconds - self.wall_seconds())

    def candidates_left(self) -> int:
        return max(0, self.budget.max_candidates - self.candidates)

    def model_calls_left(self) -> int:
        return max(0, self.budget.max_model_calls - self.model_calls)

    def exhausted(self, history: list[Evaluation], *, needs_model: bool = False) -> str:
        """Why the search must stop ("" while budget is left)."""
        b = self.budget
        if self.candidates >= b.max_candidates:
            return f"candidate budget spent ({self.candidates}/{b.max_candidates})"
        if needs_model and self.model_calls >= b.max_model_calls:
            return f"model-call budget spent ({self.model_calls}/{b.max_model_calls})"
        gpu = self.gpu_seconds(history)
        if gpu >= b.max_gpu_seconds:
            return f"GPU-time budget spent ({gpu:.1f}/{b.max_gpu_seconds:g} s)"
        wall = self.wall_seconds()
        if wall >= b.max_wall_seconds:
            return f"wall-time budget spent ({wall:.0f}/{b.max_wall_seconds:g} s)"
        return ""
