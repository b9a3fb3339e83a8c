"""``sweep``: the kernel's declared tunable parameters (KernelSpec.tunables), within budget.

When the whole cartesian product fits in the candidate budget every point is proposed at once;
otherwise a greedy coordinate search runs: vary one parameter at a time around the best point so
far, move only on a gain beyond the measured noise, and stop when a full round gains nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

from portkern.search.base import Candidate, Evaluation, SearchContext, Strategy, best
from portkern.search.budget import Budget, BudgetTracker


def tunable_space(kernel: Any) -> dict[str, list[int]]:
    return {k: list(v) for k, v in (getattr(kernel, "tunables", None) or {}).items() if v}


def default_point(kernel: Any, base: Candidate) -> dict[str, int]:
    space = tunable_space(kernel)
    point = {k: values[0] for k, values in space.items()}
    point.update({k: v for k, v in (getattr(kernel, "defaults", None) or {}).items() if k in space})
    point.update({k: v for k, v in base.params.items() if k in space})
    return point


def admissible(kernel: Any, params: dict[str, int]) -> bool:
    """Whether a point satisfies the kernel's declared constraints (threads per block, shared memory, ...)
    for every dtype; points that break them are never proposed."""
    constraints = getattr(kernel, "constraints", None)
    if not constraints:
        return True
    from portkern.library import DTYPE_BYTES, kernel_env

    sizes = kernel.sizes_validate[0] if kernel.sizes_validate else {}
    try:
        env = kernel_env(kernel, sizes, params)
        return all(kernel.allows(env, DTYPE_BYTES.get(d, 4)) for d in kernel.dtypes)
    except (ValueError, ZeroDivisionError, KeyError):
        return False


def _key(params: dict[str, int]) -> tuple:
    return tuple(sorted(params.items()))


def _point_key(kernel: Any, base: Candidate, params: dict[str, int]) -> tuple:
    """Key of the point a candidate ran at: unset parameters take their defaults."""
    point = default_point(kernel, base)
    point.update({k: v for k, v in params.items() if k in point})
    return _key(point)


@dataclass
class _SweepState:
    tracker: BudgetTracker
    proposed: set = field(default_factory=set)
    mode: str = ""                       # "cartesian" | "greedy"
    centre: dict[str, int] = field(default_factory=dict)
    axis: int = 0                        # greedy: index of the parameter varied next
    axes_without_gain: int = 0
    done: bool = False
    counter: int = 0


class SweepStrategy(Strategy):
    name = "sweep"

    def __init__(self, mode: str = "auto", noise_factor: float = 1.0) -> None:
        if mode not in ("auto", "cartesian", "greedy"):
            raise ValueError(f"sweep mode must be auto, cartesian or greedy, not {mode!r}")
        self.mode = mode
        self.noise_factor = noise_factor
        self._states: dict[str, _SweepState] = {}

    def _state(self, ctx: SearchContext) -> _SweepState:
        name = getattr(ctx.kernel, "name", ctx.base.kernel)
        if name not in self._states:
            self._states[name] = _SweepState(tracker=BudgetTracker(Budget.from_dict(ctx.budget)))
        return self._states[name]

    def _candidate(self, ctx: SearchContext, st: _SweepState, params: dict[str, int]) -> Candidate:
        st.counter += 1
        st.proposed.add(_key(params))
        st.tracker.candidates += 1
        label = ",".join(f"{k}={v}" for k, v in sorted(params.items()))
        return Candidate(id=f"{ctx.base.kernel}/sweep-{st.counter}", kernel=ctx.base.kernel, source=ctx.base.source,
                         params=dict(params), origin="sweep", parent=ctx.base.id, notes=[f"sweep point {label}"])

    def propose(self, ctx: SearchContext, history: list[Evaluation]) -> list[Candidate]:
        st = self._state(ctx)
        space = tunable_space(ctx.kernel)
        if st.done:
            return []
        if not space:
            st.done = True
            ctx.notes.append(f"sweep: {ctx.base.kernel} declares no tunable parameters")
            return []
        evaluated = {_point_key(ctx.kernel, ctx.base, ev.candidate.params)
                     for ev in history if ev.candidate.source == ctx.base.source}
        seen = evaluated | st.proposed
        why = st.tracker.exhausted(history)
        if why:
            st.done = True
            ctx.notes.append(f"sweep: stopped, {why}")
            return []
        if not st.mode:
            size = 1
            for values in space.values():
                size *= len(values)
            fits = size <= st.tracker.candidates_left() + (1 if _key(default_point(ctx.kernel, ctx.base)) in seen else 0)
            st.mode = self.mode if self.mode != "auto" else ("cartesian" if fits else "greedy")
            st.centre = default_point(ctx.kernel, ctx.base)
            ctx.notes.append(f"sweep: {size} points over {', '.join(space)}; {st.mode} search")
        if st.mode == "cartesian":
            return self._cartesian(ctx, st, space, seen)
        return self._greedy(ctx, st, space, seen, history)

    def _cartesian(self, ctx, st, space, seen) -> list[Candidate]:
        names = list(space)
        out = []
        for combo in itertools.product(*(space[n] for n in names)):
            params = dict(zip(names, combo))
            if _key(params) in seen or not admissible(ctx.kernel, params):
                continue
            if st.tracker.candidates_left() == 0:
                ctx.notes.append("sweep: candidate budget reached before the product was covered")
                break
            out.append(self._candidate(ctx, st, params))
        st.done = True
        return out

    def _greedy(self, ctx, st, space, seen, history) -> list[Candidate]:
        names = list(space)
        sweep_evals = [ev for ev in history if ev.candidate.source == ctx.base.source]
        if _key(st.centre) not in seen:
            return [self._candidate(ctx, st, st.centre)]
        # Move the centre to the best point found so far, if it beats the centre beyond noise.
        winner = best(sweep_evals, self.noise_factor)
        if winner is not None and _key(winner.candidate.params) != _key(st.centre):
            st.centre = {k: winner.candidate.params.get(k, v) for k, v in st.centre.items()}
            st.axes_without_gain = 0
        while st.axes_without_gain < len(names):
            axis = names[st.axis % len(names)]
            st.axis += 1
            points = [{**st.centre, axis: v} for v in space[axis]]
            fresh = [p for p in points if _key(p) not in seen and admissible(ctx.kernel, p)]
            fresh = fresh[: st.tracker.candidates_left()]
            if fresh:
                st.axes_without_gain += 1   # reset when the next call finds a better centre
                return [self._candidate(ctx, st, p) for p in fresh]
            st.axes_without_gain += 1
        st.done = True
        ctx.notes.append(f"sweep: greedy search converged at {st.centre}")
        return []
