"""Transformation operators: source-to-source rewrites of a kernel unit on its syntax tree.

Each operator lives in its own module of this folder (imported here, so a new file is a new
operator), registers itself by subclassing ``Operator`` (name, one-line
description, the vendors it applies to, whether it is correct by construction) and returns None
where it does not apply. A candidate built from operators records its sequence of steps, e.g.
``grid-stride(4) + unroll(2)``, so the patch, the report and the dataset can say what was done.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from portkern.errors import ConfigError
from portkern.model import Target
from portkern.search.operators.base import OPERATORS, KernelUnit, Operator, Rewrite, Suggestion

# Every module of this folder registers the operators it defines: adding one is adding a file.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

Step = tuple[str, int]                   # (operator name, argument)


def operator_names() -> list[str]:
    return sorted(OPERATORS)


def get_operator(name: str) -> Operator:
    if name not in OPERATORS:
        raise ConfigError(f"unknown transformation operator '{name}'", hint=f"use one of {', '.join(operator_names())}")
    return OPERATORS[name]()


def operators_for(target: Target) -> list[Operator]:
    """Every operator that applies to the target's vendor, by name."""
    return [op for op in (OPERATORS[n]() for n in operator_names()) if op.applies_to(target)]


def canonical(steps) -> tuple[Step, ...]:
    """The steps in the order they are applied (by operator rank): sequences differing only in order are one."""
    return tuple(sorted(steps, key=lambda s: (get_operator(s[0]).order, s[0])))


def step_label(step: Step) -> str:
    return get_operator(step[0]).label(step[1])


def sequence_label(steps: list[Step]) -> str:
    return " + ".join(step_label(s) for s in steps) or "none"


@dataclass
class Applied:
    """A sequence of steps applied to a unit: the final unit and one rewrite per step."""

    unit: KernelUnit
    steps: list[Step]
    rewrites: list[Rewrite]

    @property
    def grid_shrink(self) -> dict[str, int]:
        """Kernel -> the factor its launches' grid x was divided by, over every step."""
        return dict(self.unit.grid_shrink)

    @property
    def size_scale(self) -> dict[str, int]:
        """Size argument -> the factor its value was divided by, over every step."""
        return dict(self.unit.size_scale)

    @property
    def labels(self) -> list[str]:
        return [r.label for r in self.rewrites]

    @property
    def by_construction(self) -> bool:
        return all(get_operator(name).by_construction for name, _ in self.steps)


def apply_sequence(unit: KernelUnit, steps: list[Step], target: Target) -> Applied | None:
    """Apply the steps in order; None when a step does not apply (to the unit as the earlier steps left it)
    or its operator does not apply to the target."""
    current = unit
    rewrites = []
    for name, arg in steps:
        op = get_operator(name)
        if not op.applies_to(target):
            return None
        rw = op.apply(current, arg, target)
        if rw is None:
            return None
        rewrites.append(rw)
        shrink = dict(current.grid_shrink)
        for symbol, factor in rw.grid_shrink.items():
            shrink[symbol] = shrink.get(symbol, 1) * factor
        scale = dict(current.size_scale)
        for name_, factor in rw.size_scale.items():
            scale[name_] = scale.get(name_, 1) * factor
        current = KernelUnit(source=rw.source, launches=rw.launches, dialect=current.dialect,
                             rewritable=list(current.rewritable), grid_shrink=shrink, sizes=dict(current.sizes),
                             size_scale=scale, defines=dict(current.defines))
    return Applied(unit=current, steps=list(steps), rewrites=rewrites)


def single_steps(unit: KernelUnit, target: Target) -> list[Step]:
    """Every (operator, argument) that applies to the unit on this target."""
    out = []
    for op in operators_for(target):
        for arg in op.arguments(target):
            if op.apply(unit, arg, target) is not None:
                out.append((op.name, arg))
    return out


__all__ = ["OPERATORS", "Applied", "KernelUnit", "Operator", "Rewrite", "Step", "Suggestion", "apply_sequence", "canonical", "get_operator",
           "operator_names", "operators_for", "sequence_label", "single_steps", "step_label"]
