"""The search contract between the pipeline and the strategies (sweep, refine, evolve).

The pipeline owns the loop: it compiles, validates and benchmarks every candidate a strategy
proposes, then hands the evaluated history back and asks for more, until the strategy returns
nothing or a budget runs out.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from portkern.library import LaunchSpec
from portkern.model import BenchResult, Record, ResourceReport, Target, ValidationResult


@dataclass
class Candidate(Record):
    id: str                              # unique within a run: "<kernel>/<origin>-<n>"
    kernel: str                          # KernelSpec.name
    source: str                          # the full kernel unit source in the target's dialect
    params: dict[str, int] = field(default_factory=dict)   # tunable values (template args, launch)
    origin: str = "original"             # original | rules | sweep | operator | model-translate | model-repair | model-optimize
    parent: str = ""                     # id of the candidate it was derived from
    prompt_kind: str = ""                # translate | repair-compile | repair-validation | optimize ("" = no model)
    prompt: str = ""                     # the exact prompt text (for the dataset)
    model: str = ""                      # model name that produced it
    notes: list[str] = field(default_factory=list)
    model_call: str = ""                 # ModelCall.call_id of the reply it came from ("" = no model)
    operators: list[str] = field(default_factory=list)     # transformation steps applied, e.g. ["grid-stride(4)"]
    # How the candidate is launched where that differs from the manifest ([] = the kernel's launches), and
    # per kernel the factor its grid's x was divided by: the patch makes the library's host code match.
    launches: list[LaunchSpec] = field(default_factory=list)
    grid_shrink: dict[str, int] = field(default_factory=dict)
    # Size arguments whose value the candidate divides (name -> factor; a reduction's block count).
    size_scale: dict[str, int] = field(default_factory=dict)

    def kernel_spec(self, kernel):
        """``kernel`` (a KernelSpec) as this candidate is launched."""
        if self.launches:
            kernel = replace(kernel, launches=list(self.launches))
        return scaled_sizes(kernel, self.size_scale)


def scaled_sizes(kernel, scale: dict[str, int]):
    """``kernel`` with the value of each size argument in ``scale`` divided by its factor (rounded up)."""
    if not scale:
        return kernel
    args = [replace(a, value=f"ceil_div({a.value}, {int(scale[a.name])})") if a.name in scale and a.value else a
            for a in kernel.args]
    return replace(kernel, args=args)


@dataclass
class Evaluation(Record):
    """What the pipeline learned about one candidate."""

    candidate: Candidate
    compiled: bool
    compile_error: str = ""
    resources: ResourceReport | None = None
    validation: ValidationResult | None = None
    bench: list[BenchResult] = field(default_factory=list)
    score_ms: float = 0.0                # median time at the primary bench size (0 = not timed)
    spread_ms: float = 0.0
    gpu_seconds: float = 0.0             # device time spent validating and timing it (budget accounting)
    profile: dict[str, Any] = field(default_factory=dict)  # profiler counters, when a profiler ran
    prediction: dict[str, Any] = field(default_factory=dict)  # the performance model's, before any timing

    @property
    def correct(self) -> bool:
        return self.compiled and self.validation is not None and self.validation.passed


@dataclass
class SearchContext:
    """Everything a strategy may look at. Strategies never call compilers or devices themselves."""

    kernel: Any                          # portkern.library.KernelSpec
    library: Any                         # portkern.library.LibrarySpec
    target: Target
    dialect: str                         # dialect of the candidates ("hip" | "cuda")
    base: Candidate                      # the ported original
    hazards: list[dict[str, Any]] = field(default_factory=list)  # open translator findings
    budget: dict[str, float] = field(default_factory=dict)       # max_candidates, max_model_calls, ...
    llm: Any = None                      # portkern.llm client, or None when no model server is reachable
    skipped: list[str] = field(default_factory=list)             # reasons stages were skipped (filled by strategies)
    original_source: str = ""            # the unit in the library's own dialect (for translate prompts)
    notes: list[str] = field(default_factory=list)               # what strategies decided and why they stopped


# Every concrete strategy, by name: a subclass of Strategy that sets ``name`` registers itself.
STRATEGIES: dict[str, type[Strategy]] = {}


class Strategy(abc.ABC):
    name: ClassVar[str] = ""             # set it, and the class is registered under that name
    needs_model: ClassVar[bool] = False  # whether it asks the model server for rewrites

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.__dict__.get("name"):
            return                       # a shared base such as ModelDrivenStrategy
        if cls.name in STRATEGIES and STRATEGIES[cls.name] is not cls:
            raise TypeError(f"search strategy '{cls.name}' is defined twice: {STRATEGIES[cls.name].__qualname__} "
                            f"and {cls.__qualname__}")
        STRATEGIES[cls.name] = cls

    @abc.abstractmethod
    def propose(self, ctx: SearchContext, history: list[Evaluation]) -> list[Candidate]:
        """New candidates given everything evaluated so far; [] when the strategy is done."""


def best(history: list[Evaluation], noise_factor: float = 1.0) -> Evaluation | None:
    """Fastest correct evaluation; ties within the measured spread keep the earlier one."""
    winner: Evaluation | None = None
    for ev in history:
        if not ev.correct or ev.score_ms <= 0:
            continue
        if winner is None:
            winner = ev
            continue
        margin = noise_factor * max(ev.spread_ms, winner.spread_ms)
        if ev.score_ms < winner.score_ms - margin:
            winner = ev
    return winner
