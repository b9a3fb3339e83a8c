"""Operator sequences plus tunable values as one searchable point (a genome), for evolve and refine
when no model server is there.

A genome is applied to the base candidate from scratch (the sequence in order, then the tunables), so
a candidate is reproducible from its record: ``operators`` lists the steps and ``params`` the values.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from portkern.search.base import Candidate, SearchContext
from portkern.search.operators import (
    Applied,
    KernelUnit,
    Step,
    apply_sequence,
    canonical,
    get_operator,
    operators_for,
    sequence_label,
)
from portkern.search.operators.view import device_defines
from portkern.search.sweep import admissible, default_point, tunable_space

_LABEL = re.compile(r"^([a-z][\w-]*)\((-?\d+)\)$")


@dataclass(frozen=True)
class Genome:
    steps: tuple[Step, ...] = ()
    params: tuple[tuple[str, int], ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", canonical(self.steps))

    @property
    def key(self) -> tuple:
        return self.steps, self.params

    def label(self) -> str:
        parts = [sequence_label(list(self.steps))] if self.steps else []
        parts += [f"{k}={v}" for k, v in self.params]
        return " + ".join(parts) or "base"


def parse_steps(labels: list[str]) -> tuple[Step, ...]:
    out = []
    for label in labels:
        m = _LABEL.match(label.strip())
        if not m:
            raise ValueError(f"not an operator step: {label!r} (expected name(argument))")
        out.append((m.group(1), int(m.group(2))))
    return tuple(out)


def genome_of(ctx: SearchContext, cand: Candidate) -> Genome:
    point = default_point(ctx.kernel, ctx.base)
    point.update({k: v for k, v in cand.params.items() if k in point})
    return Genome(steps=parse_steps(cand.operators), params=tuple(sorted(point.items())))


def base_unit(ctx: SearchContext) -> KernelUnit:
    sizes = {a.name: a.value for a in ctx.kernel.args if a.role in ("size", "batch") and a.value}
    return KernelUnit(source=ctx.base.source, launches=list(ctx.kernel.launches), dialect=ctx.dialect,
                      rewritable=[ctx.kernel.symbol], sizes=sizes, defines=device_defines(ctx.target))


def realise(ctx: SearchContext, genome: Genome) -> Applied | None:
    """The genome's steps applied to the base; None when a step does not apply or the tunables are not admissible."""
    if genome.params and not admissible(ctx.kernel, dict(genome.params)):
        return None
    if not genome.steps:
        return Applied(unit=base_unit(ctx), steps=[], rewrites=[])
    return apply_sequence(base_unit(ctx), list(genome.steps), ctx.target)


def candidate(ctx: SearchContext, genome: Genome, applied: Applied, cid: str, parent: str, why: str) -> Candidate:
    notes = [f"{why}: {genome.label()}"] + [f"{r.label}: {r.description}" for r in applied.rewrites]
    if applied.steps and not applied.by_construction:
        notes.append("needs validation: not every step is correct by construction")
    shrink = applied.grid_shrink
    launches = list(applied.unit.launches) if shrink else []
    if shrink:
        notes.append("launch: grid x divided by " + ", ".join(f"{f} for {k}" for k, f in sorted(shrink.items())))
    scale = applied.size_scale
    if scale:
        notes.append("launch: " + ", ".join(f"{k} divided by {f}" for k, f in sorted(scale.items())))
    return Candidate(id=cid, kernel=ctx.base.kernel, source=applied.unit.source, params=dict(genome.params),
                     origin="operator" if genome.steps else "sweep", parent=parent, notes=notes,
                     operators=list(applied.labels), launches=launches, grid_shrink=shrink, size_scale=scale)


def neighbours(ctx: SearchContext, genome: Genome) -> list[Genome]:
    """Genomes one change away: add an operator, change a step's argument, drop a step, or move one
    tunable to another of its values. Only those that apply are returned."""
    out: list[Genome] = []
    used = {name for name, _ in genome.steps}
    for op in operators_for(ctx.target):
        if op.name in used:
            for i, (name, arg) in enumerate(genome.steps):
                if name == op.name:
                    out += [Genome(genome.steps[:i] + ((name, a),) + genome.steps[i + 1:], genome.params)
                            for a in op.arguments(ctx.target) if a != arg]
        else:
            out += [Genome(genome.steps + ((op.name, a),), genome.params) for a in op.arguments(ctx.target)]
    out += [Genome(genome.steps[:i] + genome.steps[i + 1:], genome.params) for i in range(len(genome.steps))]
    params = dict(genome.params)
    for name, values in tunable_space(ctx.kernel).items():
        out += [Genome(genome.steps, tuple(sorted({**params, name: v}.items())))
                for v in values if v != params.get(name)]
    return [g for g in out if realise(ctx, g) is not None]


def seeds(ctx: SearchContext) -> list[Genome]:
    """The operators' suggested points that apply, in each operator's order (e.g. tile-gemm's 128 x 128 blocks
    of 8 x 8 results per thread): a walk of one change at a time rarely reaches a point several tunables away
    together with the operator built for it, so the searches try these first."""
    default = default_point(ctx.kernel, ctx.base)
    space = tunable_space(ctx.kernel)
    out: list[Genome] = []
    # By rank: an operator that shapes the loop suggests first (its points were measured before the later ones').
    for op in sorted(operators_for(ctx.target), key=lambda op: op.order):
        for s in op.suggestions(space, ctx.target):
            params = dict(s.params)
            if any(k not in default for k in params):
                continue
            genome = Genome(((op.name, s.arg),) + tuple(s.steps), tuple(sorted({**default, **params}.items())))
            if genome not in out and realise(ctx, genome) is not None:
                out.append(genome)
    return out


def crossover(a: Genome, b: Genome, rng: random.Random) -> Genome:
    """The steps of ``a`` then those of ``b`` whose operator ``a`` lacks; each tunable from either parent."""
    names = {n for n, _ in a.steps}
    steps = a.steps + tuple(s for s in b.steps if s[0] not in names)
    pa, pb = dict(a.params), dict(b.params)
    params = {k: (pa[k] if rng.random() < 0.5 or k not in pb else pb[k]) for k in pa}
    return Genome(steps, tuple(sorted(params.items())))


def describe_steps(steps: tuple[Step, ...]) -> list[str]:
    return [f"{get_operator(n).label(a)}" for n, a in steps]
