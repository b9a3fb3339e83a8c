"""``evolve``: a population. Each generation asks the model for several rewrites of the best
candidates so far, each with its own feedback (compile errors, failing cases, or timing and
resources); the population is the fastest correct candidates. It stops when a few generations in
a row do not beat the best beyond the noise, or a budget runs out.

Without a model server it records why in ``SearchContext.skipped`` and evolves a population of
operator sequences and tunable values instead (``portkern.search.operator_search``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from portkern.search.base import Candidate, Evaluation, SearchContext, best
from portkern.search.feedback import ask_model, next_request
from portkern.search.judge import faster_beyond_noise, passed_cases
from portkern.search.modeled import ModelDrivenStrategy, ModelState
from portkern.search.operator_search import OperatorEvolution


def population(history: list[Evaluation], size: int) -> list[Evaluation]:
    """The fastest correct candidates (timed ones first, by median time); when none is correct,
    the least broken ones (compiling, most cases passed), so repairs have something to start from."""
    correct = [ev for ev in history if ev.correct]
    if correct:
        timed = sorted((ev for ev in correct if ev.score_ms > 0), key=lambda ev: ev.score_ms)
        untimed = [ev for ev in correct if ev.score_ms <= 0]
        return (timed + untimed)[:size]
    broken = sorted(history, key=lambda ev: (not ev.compiled, -passed_cases(ev)))
    return broken[:size]


@dataclass
class _EvolveState(ModelState):
    generation: int = 0
    scored_generation: int = 0
    best_id: str = ""
    stale: int = 0


class EvolveStrategy(ModelDrivenStrategy):
    state_class = _EvolveState
    name = "evolve"

    def __init__(self, *, population_size: int = 3, children: int = 4, patience: int = 2,
                 temperature: float = 0.7, noise_factor: float = 1.0, llm_config: dict | None = None) -> None:
        self.population_size = population_size
        self.children = children             # rewrites asked for per generation
        self.patience = patience             # generations in a row without a gain beyond noise
        self.temperature = temperature       # higher than refine's: the population needs diverse rewrites
        super().__init__(noise_factor=noise_factor, llm_config=llm_config)

    def operator_search(self) -> OperatorEvolution:
        return OperatorEvolution(population_size=self.population_size, children=self.children,
                                 patience=self.patience, noise_factor=self.noise_factor)

    def propose(self, ctx: SearchContext, history: list[Evaluation]) -> list[Candidate]:
        st = self._state(ctx)
        swept = self._without_model(ctx, st, history)
        if swept is not None:
            return swept
        if st.done:
            return []
        if not any(ev.candidate.id == ctx.base.id for ev in history):
            if st.base_proposed:
                return self._stop(ctx, st, f"the base candidate {ctx.base.id} was never evaluated")
            st.base_proposed = True
            return [ctx.base]
        seeded = self._operator_seeds(ctx, st, history)
        if seeded:
            return seeded
        while True:
            self._score_generation(ctx, st, history)
            why = st.tracker.exhausted(history, needs_model=True)
            if why:
                return self._stop(ctx, st, why)
            if st.stale >= self.patience:
                return self._stop(ctx, st, f"{self.patience} generations without a gain beyond the noise")
            before = st.generation
            children = self._generation(ctx, st, history)
            if children:
                return children
            if st.generation == before:
                return self._stop(ctx, st, "nothing left to ask for")
            # Every reply of this generation was rejected: scored as a generation without gain.

    def _score_generation(self, ctx: SearchContext, st: _EvolveState, history: list[Evaluation]) -> None:
        """After each generation: did the best move forward beyond the noise?"""
        if st.generation == st.scored_generation:
            return
        st.scored_generation = st.generation
        winner = best(history, self.noise_factor)
        previous = next((ev for ev in history if ev.candidate.id == st.best_id), None)
        improved = winner is not None and (previous is None or (
            winner.candidate.id != previous.candidate.id and faster_beyond_noise(winner, previous, self.noise_factor)))
        if improved:
            st.best_id, st.stale = winner.candidate.id, 0
            ctx.notes.append(f"{self.name}: after generation {st.generation} the best is {winner.candidate.id} "
                             f"({winner.score_ms:.4g} ms)")
        else:
            st.stale += 1

    def _generation(self, ctx: SearchContext, st: _EvolveState, history: list[Evaluation]) -> list[Candidate]:
        parents = population(history, self.population_size)
        n = min(self.children, st.tracker.candidates_left(), st.tracker.model_calls_left())
        if not parents or n <= 0:
            return []
        if st.generation == 0:
            winner = best(history, self.noise_factor)
            st.best_id = winner.candidate.id if winner else ""
        st.generation += 1
        jobs = []
        for i in range(n):
            parent = parents[i % len(parents)]
            kind, prompt = next_request(ctx, parent, settled=parent.correct and st.generation > 2)
            st.counter += 1
            jobs.append((kind, prompt, parent.candidate, f"{ctx.kernel.name}/evolve-g{st.generation}-{st.counter}",
                         ctx.llm.seed + st.counter))
        st.tracker.model_calls += len(jobs)
        # The client's semaphore bounds how many of these reach the server at once.
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            results = list(pool.map(lambda j: ask_model(ctx, None, kind=j[0], prompt=j[1], parent=j[2],
                                                        candidate_id=j[3], seed=j[4], temperature=self.temperature,
                                                        time_limit_s=st.tracker.wall_seconds_left()), jobs))
        children = [c for c in results if c is not None]
        st.tracker.candidates += len(children)
        ctx.notes.append(f"{self.name}: generation {st.generation}: {len(children)} of {len(jobs)} replies accepted "
                         f"from {len(parents)} parent(s)")
        return children

    def _stop(self, ctx: SearchContext, st: _EvolveState, why: str) -> list[Candidate]:
        st.done = True
        ctx.notes.append(f"{self.name}: stopped after {st.generation} generation(s), {why}"
                         + (f"; best {st.best_id}" if st.best_id else ""))
        return []
