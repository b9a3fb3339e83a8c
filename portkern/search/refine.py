"""``refine``: one evolving kernel. Repair it until it is correct, then optimise it; a change is kept
only if it is correct and faster beyond the measured noise, otherwise the kernel reverts to the
last kept version and the next request starts from there.

Without a model server it records why in ``SearchContext.skipped`` and refines the kernel with
transformation operators and tunable values instead (``portkern.search.operator_search``).
"""

from __future__ import annotations

from dataclasses import dataclass

from portkern.search.base import Candidate, Evaluation, SearchContext, best
from portkern.search.feedback import ask_model, next_request, translate_request
from portkern.search.judge import faster_beyond_noise, step_forward
from portkern.search.modeled import ModelDrivenStrategy, ModelState
from portkern.search.operator_search import OperatorRefinement


@dataclass
class _RefineState(ModelState):
    current: str = ""                    # id of the kept kernel
    pending: str = ""                    # id of the candidate awaiting its verdict
    repair_misses: int = 0
    optimize_misses: int = 0
    translated: bool = False


class RefineStrategy(ModelDrivenStrategy):
    state_class = _RefineState
    name = "refine"

    def __init__(self, *, max_repairs: int = 4, patience: int = 3, settle_after: int = 1,
                 noise_factor: float = 1.0, llm_config: dict | None = None) -> None:
        self.max_repairs = max_repairs       # failed repair attempts before giving up on a broken kernel
        self.patience = patience             # optimisation attempts in a row without a kept gain
        self.settle_after = settle_after     # misses after which the structure counts as settled (profile shown)
        super().__init__(noise_factor=noise_factor, llm_config=llm_config)

    def operator_search(self) -> OperatorRefinement:
        return OperatorRefinement(noise_factor=self.noise_factor)

    def propose(self, ctx: SearchContext, history: list[Evaluation]) -> list[Candidate]:
        st = self._state(ctx)
        swept = self._without_model(ctx, st, history)
        if swept is not None:
            return swept
        if st.done:
            return []
        by_id = {ev.candidate.id: ev for ev in history}
        if ctx.base.id not in by_id:
            if st.base_proposed:
                return self._stop(ctx, st, f"the base candidate {ctx.base.id} was never evaluated")
            st.base_proposed = True
            return [ctx.base]
        st.current = st.current or ctx.base.id
        seeded = self._operator_seeds(ctx, st, history)
        if seeded:
            return seeded
        if st.seed_ids:
            self._adopt_seed(ctx, st, by_id)
        if st.pending:
            self._judge(ctx, st, by_id)
        return self._next(ctx, st, by_id, history)

    def _adopt_seed(self, ctx: SearchContext, st: _RefineState, by_id: dict[str, Evaluation]) -> None:
        """Refine from the best operator suggested point when it beats the kept kernel beyond the noise."""
        seeds, st.seed_ids = [by_id[i] for i in st.seed_ids if i in by_id], ()
        cur = by_id.get(st.current)
        winner = best(seeds, self.noise_factor) if seeds else None
        if winner is not None and cur is not None and winner.correct and faster_beyond_noise(winner, cur, self.noise_factor):
            st.current = winner.candidate.id
            ctx.notes.append(f"{self.name}: refining from {winner.candidate.id} ({winner.score_ms:.4g} ms, "
                             f"faster than {cur.candidate.id})")

    def _judge(self, ctx: SearchContext, st: _RefineState, by_id: dict[str, Evaluation]) -> None:
        new, cur = by_id.get(st.pending), by_id[st.current]
        st.pending = ""
        if new is None:
            ctx.notes.append(f"{self.name}: a proposed candidate came back unevaluated; continuing from {cur.candidate.id}")
            return
        keep, why = step_forward(new, cur, self.noise_factor)
        was_correct = cur.correct
        if keep:
            st.current = new.candidate.id
            st.optimize_misses = 0 if new.correct and was_correct else st.optimize_misses
            st.repair_misses = 0
            ctx.notes.append(f"{self.name}: kept {new.candidate.id}: {why}")
        else:
            if was_correct:
                st.optimize_misses += 1
            else:
                st.repair_misses += 1
            ctx.notes.append(f"{self.name}: reverted {new.candidate.id} to {cur.candidate.id}: {why}")

    def _next(self, ctx: SearchContext, st: _RefineState, by_id: dict[str, Evaluation],
              history: list[Evaluation]) -> list[Candidate]:
        while True:
            cur = by_id[st.current]
            why = st.tracker.exhausted(history, needs_model=True)
            if why:
                return self._stop(ctx, st, why)
            if not cur.correct and st.repair_misses >= self.max_repairs:
                return self._stop(ctx, st, f"{cur.candidate.id} still incorrect after {self.max_repairs} repair attempts")
            if cur.correct and st.optimize_misses >= self.patience:
                return self._stop(ctx, st, f"{self.patience} optimisation attempts in a row gained nothing")
            if not st.translated and ctx.hazards and ctx.original_source and st.current == ctx.base.id:
                st.translated = True
                kind, prompt = translate_request(ctx)
            else:
                kind, prompt = next_request(ctx, cur, settled=cur.correct and st.optimize_misses >= self.settle_after)
            st.counter += 1
            cand = ask_model(ctx, st.tracker, kind=kind, prompt=prompt, parent=cur.candidate,
                             candidate_id=f"{ctx.kernel.name}/refine-{st.counter}",
                             seed=ctx.llm.seed + st.counter)
            if cand is not None:
                st.tracker.candidates += 1
                st.pending = cand.id
                return [cand]
            # A rejected or failed reply is a miss like a reverted change; the next seed differs.
            if cur.correct:
                st.optimize_misses += 1
            else:
                st.repair_misses += 1

    def _stop(self, ctx: SearchContext, st: _RefineState, why: str) -> list[Candidate]:
        st.done = True
        ctx.notes.append(f"{self.name}: stopped, {why}; kept {st.current or ctx.base.id}")
        return []
