"""What evolve and refine do when no model server is there: search operator sequences and tunable
values (genomes, see ``portkern.search.genome``) on measured or predicted time.

- ``OperatorEvolution`` (evolve): a population of genomes; each generation mutates (add, change or
  drop a step, move a tunable) and crosses over the fastest correct ones; it stops after a few
  generations without a gain beyond the noise, or when a budget runs out.
- ``OperatorRefinement`` (refine): one evolving kernel; every neighbour of the current genome is
  tried, the fastest correct one beyond the noise becomes current, and it stops when none is faster.

Operators transform correct kernels; a base that is not correct is left to the repairs a model makes.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field

from portkern.search.base import Candidate, Evaluation, SearchContext, best
from portkern.search.budget import Budget, BudgetTracker
from portkern.search.genome import Genome, candidate, crossover, genome_of, neighbours, realise, seeds
from portkern.search.judge import faster_beyond_noise


@dataclass
class _State:
    tracker: BudgetTracker
    rng: random.Random
    seen: set = field(default_factory=set)        # genome keys proposed or evaluated
    ids: dict = field(default_factory=dict)       # genome key -> candidate id
    counter: int = 0
    generation: int = 0
    scored: int = 0
    best_id: str = ""
    stale: int = 0
    current: str = ""                             # refine: id of the kept candidate
    pending: list = field(default_factory=list)   # refine: ids awaiting their verdict
    done: bool = False


class _GenomeSearch:
    label = ""

    def __init__(self, *, noise_factor: float = 1.0, seed: int = 0) -> None:
        self.noise_factor = noise_factor
        self.seed = seed
        self._states: dict[str, _State] = {}

    def _state(self, ctx: SearchContext) -> _State:
        name = ctx.kernel.name
        if name not in self._states:
            rng = random.Random(self.seed ^ zlib.crc32(name.encode()))
            self._states[name] = _State(tracker=BudgetTracker(Budget.from_dict(ctx.budget)), rng=rng)
        return self._states[name]

    def _learn(self, ctx: SearchContext, st: _State, history: list[Evaluation]) -> None:
        for ev in history:
            if ev.candidate.source and ev.candidate.id not in st.ids.values() and ev.candidate.origin in (
                    "original", "rules", "sweep", "operator"):
                try:
                    key = genome_of(ctx, ev.candidate).key
                except ValueError:
                    continue
                st.seen.add(key)
                st.ids.setdefault(key, ev.candidate.id)

    def _make(self, ctx: SearchContext, st: _State, genome: Genome, parent: str, tag: str, why: str) -> Candidate | None:
        if genome.key in st.seen:
            return None
        applied = realise(ctx, genome)
        if applied is None:
            return None
        st.seen.add(genome.key)
        st.counter += 1
        st.tracker.candidates += 1
        cid = f"{ctx.kernel.name}/{tag}-{st.counter}"
        st.ids[genome.key] = cid
        return candidate(ctx, genome, applied, cid, parent, why)

    def _stop(self, ctx: SearchContext, st: _State, why: str) -> list[Candidate]:
        st.done = True
        keep = st.best_id or st.current
        ctx.notes.append(f"{self.label}: operator search stopped, {why}" + (f"; best {keep}" if keep else ""))
        return []

    def _begin(self, ctx: SearchContext, history: list[Evaluation]) -> tuple[_State, Evaluation | None, list[Candidate] | None]:
        """The kernel's state and its base evaluation, with what was learned from ``history``; or the
        proposals to return at once (none) when the search is over or the base is not correct."""
        st = self._state(ctx)
        if st.done:
            return st, None, []
        base = self._base(ctx, history)
        if base is None or not base.correct:
            return st, base, self._stop(ctx, st, f"the base {ctx.base.id} is not correct "
                                                 "(operators transform correct kernels)")
        self._learn(ctx, st, history)
        return st, base, None

    def _base(self, ctx: SearchContext, history: list[Evaluation]) -> Evaluation | None:
        return next((ev for ev in history if ev.candidate.id == ctx.base.id), None)


class OperatorEvolution(_GenomeSearch):
    label = "evolve"

    def __init__(self, *, population_size: int = 3, children: int = 4, patience: int = 2,
                 crossover_rate: float = 0.4, noise_factor: float = 1.0, seed: int = 0) -> None:
        super().__init__(noise_factor=noise_factor, seed=seed)
        self.population_size = population_size
        self.children = children
        self.patience = patience
        self.crossover_rate = crossover_rate

    def propose(self, ctx: SearchContext, history: list[Evaluation]) -> list[Candidate]:
        st, base, stop = self._begin(ctx, history)
        if stop is not None:
            return stop
        self._score(ctx, st, history)
        why = st.tracker.exhausted(history)
        if why:
            return self._stop(ctx, st, why)
        if st.stale >= self.patience:
            return self._stop(ctx, st, f"{self.patience} generations without a gain beyond the noise")
        parents = self._population(ctx, history)
        n = min(self.children, st.tracker.candidates_left())
        st.generation += 1
        out: list[Candidate] = []
        if st.generation == 1:                    # the operators' suggested points first
            for genome in seeds(ctx):
                if len(out) >= n:
                    break
                cand = self._make(ctx, st, genome, base.candidate.id, f"evolve-g{st.generation}",
                                  "an operator's suggested point")
                if cand is not None:
                    out.append(cand)
        for _ in range(n * 8):                    # attempts: many children repeat a seen genome
            if len(out) >= n:
                break
            child = self._child(ctx, st, parents)
            if child is None:
                continue
            genome, parent, why = child
            cand = self._make(ctx, st, genome, parent, f"evolve-g{st.generation}", why)
            if cand is not None:
                out.append(cand)
        if not out:
            return self._stop(ctx, st, "no unseen operator sequence or tunable value applies")
        ctx.notes.append(f"{self.label}: generation {st.generation}: {len(out)} operator candidate(s) from "
                         f"{len(parents)} parent(s)")
        return out

    def _population(self, ctx: SearchContext, history: list[Evaluation]) -> list[tuple[Genome, Evaluation]]:
        ranked = sorted((ev for ev in history if ev.correct and ev.candidate.origin in
                         ("original", "rules", "sweep", "operator")),
                        key=lambda ev: (ev.score_ms <= 0, ev.score_ms))
        return [(genome_of(ctx, ev.candidate), ev) for ev in ranked[: self.population_size]]

    def _child(self, ctx, st: _State, parents) -> tuple[Genome, str, str] | None:
        rng = st.rng
        (g, ev) = parents[rng.randrange(len(parents))]
        if len(parents) > 1 and rng.random() < self.crossover_rate:
            (h, other) = rng.choice([p for p in parents if p[1] is not ev])
            child = crossover(g, h, rng)
            if child.key not in st.seen and realise(ctx, child) is not None:
                return child, ev.candidate.id, f"crossover of {ev.candidate.id} and {other.candidate.id}"
        options = [m for m in neighbours(ctx, g) if m.key not in st.seen]
        if not options:
            return None
        return rng.choice(options), ev.candidate.id, f"mutation of {ev.candidate.id}"

    def _score(self, ctx: SearchContext, st: _State, history: list[Evaluation]) -> None:
        if st.generation == st.scored:
            if not st.best_id:
                winner = best(history, self.noise_factor)
                st.best_id = winner.candidate.id if winner else ""
            return
        st.scored = st.generation
        winner = best(history, self.noise_factor)
        previous = next((ev for ev in history if ev.candidate.id == st.best_id), None)
        if winner is not None and (previous is None or (winner.candidate.id != previous.candidate.id and
                                                        faster_beyond_noise(winner, previous, self.noise_factor))):
            st.best_id, st.stale = winner.candidate.id, 0
            ctx.notes.append(f"{self.label}: after generation {st.generation} the best is {winner.candidate.id} "
                             f"({' + '.join(winner.candidate.operators) or 'no operators'}, {winner.score_ms:.4g} ms)")
        else:
            st.stale += 1


class OperatorRefinement(_GenomeSearch):
    label = "refine"

    def __init__(self, *, width: int = 6, noise_factor: float = 1.0, seed: int = 0) -> None:
        super().__init__(noise_factor=noise_factor, seed=seed)
        self.width = width                         # neighbours tried per round

    def propose(self, ctx: SearchContext, history: list[Evaluation]) -> list[Candidate]:
        st, base, stop = self._begin(ctx, history)
        if stop is not None:
            return stop
        by_id = {ev.candidate.id: ev for ev in history}
        st.current = st.current or base.candidate.id
        if st.pending:
            tried = [by_id[c] for c in st.pending if c in by_id]
            st.pending = []
            cur = by_id[st.current]
            winner = best([cur] + tried, self.noise_factor)
            if winner is not None and winner is not cur and faster_beyond_noise(winner, cur, self.noise_factor):
                st.current = winner.candidate.id
                ctx.notes.append(f"{self.label}: kept {winner.candidate.id} "
                                 f"({' + '.join(winner.candidate.operators) or 'tunables'}): "
                                 f"{cur.score_ms:.4g} -> {winner.score_ms:.4g} ms")
            else:
                return self._stop(ctx, st, f"no change to {st.current} was faster beyond the noise")
        why = st.tracker.exhausted(history)
        if why:
            return self._stop(ctx, st, why)
        cur = by_id[st.current]
        g = genome_of(ctx, cur.candidate)
        options = [m for m in neighbours(ctx, g) if m.key not in st.seen]
        st.rng.shuffle(options)
        if cur.candidate.id == base.candidate.id:   # the first round: the operators' suggested points first
            options = [m for m in seeds(ctx) if m.key not in st.seen] + options
        out = []
        for m in options[: min(self.width, st.tracker.candidates_left())]:
            cand = self._make(ctx, st, m, cur.candidate.id, "refine", f"one change to {cur.candidate.id}")
            if cand is not None:
                out.append(cand)
        if not out:
            return self._stop(ctx, st, f"no unseen change to {st.current} applies")
        st.pending = [c.id for c in out]
        return out
