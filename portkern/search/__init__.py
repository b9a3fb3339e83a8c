"""Search strategies: ``sweep`` (tunable parameters), ``refine`` (one evolving kernel), ``evolve``
(a population). The pipeline drives them through the contract in ``portkern.search.base``.

Without a model server, ``refine`` and ``evolve`` search sequences of transformation operators
(``portkern.search.operators``) together with the tunables (``portkern.search.operator_search``).

A strategy registers itself by subclassing ``Strategy`` with a ``name`` (and says with
``needs_model`` whether it uses the model server); importing this package imports every strategy
module, so ``STRATEGIES`` and ``strategy_names()`` list them all.
"""

from __future__ import annotations

from typing import Any

from portkern.errors import ConfigError
from portkern.search.base import STRATEGIES, Candidate, Evaluation, SearchContext, Strategy, best
from portkern.search.budget import Budget, BudgetTracker
from portkern.search.evolve import EvolveStrategy
from portkern.search.refine import RefineStrategy
from portkern.search.sweep import SweepStrategy


def strategy_names() -> list[str]:
    """The registered strategies, the default (sweep) first."""
    return sorted(STRATEGIES, key=lambda n: (n != "sweep", n))


def get_strategy(name: str, **options: Any) -> Strategy:
    """A fresh strategy by name; ``options`` go to its constructor (e.g. ``population_size`` for evolve)."""
    key = name.strip().lower()
    if key not in STRATEGIES:
        raise ConfigError(f"unknown search strategy '{name}'", hint=f"use one of {', '.join(strategy_names())}")
    try:
        return STRATEGIES[key](**options)
    except TypeError as exc:
        raise ConfigError(f"search strategy '{key}': bad option ({exc})") from exc


__all__ = ["STRATEGIES", "Budget", "BudgetTracker", "Candidate", "Evaluation", "EvolveStrategy", "RefineStrategy",
           "SearchContext", "Strategy", "SweepStrategy", "best", "get_strategy", "strategy_names"]
