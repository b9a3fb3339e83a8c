"""Search budgets: candidates, model calls, GPU seconds, wall time.

Limits come from ``SearchContext.budget`` (keys as in the ``search`` config section); anything not
given falls back to the configured defaults. A strategy asks ``exhausted()`` before each proposal
and clips what it proposes to ``candidates_left()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from portkern.search.base import Evaluation


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
