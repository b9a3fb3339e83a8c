"""Graph planning: the tasks of one (library, target) port, added kernel by kernel and round by round.

A kernel starts with ingest (and translate when the dialects differ) and a first round holding its
base candidate. Each candidate is a compile -> validate -> bench chain; each round ends in a
``search`` join task whose result the search driver turns into the next round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from portkern.library import KernelSpec, LibrarySpec
from portkern.model import Target
from portkern.pipeline.dag import RESULT, Dep, Task, TaskGraph


@dataclass
class KernelState:
    kernel: KernelSpec
    source_task: str                     # task whose payload["source"] is the base unit
    base: Any = None                     # search.base.Candidate
    history: list = field(default_factory=list)
    proposed: int = 0
    round: int = 0
    ctx: Any = None
    hazards: list = field(default_factory=list)          # translator findings without a safe fix
    original_source: str = ""                            # the unit in the library's own dialect
    done: bool = False
    end_reason: str = ""
    candidate_ids: set = field(default_factory=set)
    gate: dict | None = None                             # the reference a new candidate must be able to beat
    ruled_out: int = 0                                   # candidates the performance model ruled out


class GraphPlan:
    """The running task graph of a port and the per-kernel state that grows it."""

    def __init__(self, library: LibrarySpec, target: Target, use_device: bool, *, base_full: bool = True,
                 base_vendor: bool = True, profile: bool = False):
        self.library = library
        # Profiler counters of every correct candidate timed (NVIDIA GPUs, through Nsight Compute).
        self.profile = profile and use_device and target.backend == "cuda"
        self.base_full = base_full
        self.base_vendor = base_vendor
        # A unit translated to CUDA gets the nvcc flags for what clang accepts by default (constexpr
        # host functions called from device code, extended lambdas), as a translated build file does.
        self.translated_flags: list[str] = []
        if library.dialect == "hip" and target.dialect == "cuda":
            from portkern.translate.buildfiles import nvcc_needs

            self.translated_flags = list(nvcc_needs())
        self.target = target
        self.use_device = use_device
        self.graph = TaskGraph()
        self.states: dict[str, KernelState] = {}
        from portkern.perfmodel.predict import model_id

        self.model_id = model_id()

    def add_kernel(self, kernel: KernelSpec, digest: str) -> KernelState:
        from portkern.search.base import Candidate

        k = kernel.name
        self.graph.add(Task(id=f"{k}/ingest", stage="ingest", kernel=k,
                            inputs={"library": self.library, "kernel": kernel, "library_digest": digest}))
        source_task = f"{k}/ingest"
        if self.library.dialect != self.target.dialect:
            self.graph.add(Task(id=f"{k}/translate", stage="translate", kernel=k,
                                inputs={"source_dialect": self.library.dialect,
                                        "target_dialect": self.target.dialect, "filename": kernel.file},
                                deps={"source": Dep(source_task, "source")}))
            source_task = f"{k}/translate"
        state = KernelState(kernel=kernel, source_task=source_task)
        self.states[k] = state
        origin = "original" if self.library.dialect == self.target.dialect else "rules"
        base = Candidate(id=f"{k}/{origin}-0", kernel=k, source="", params=dict(kernel.defaults), origin=origin)
        self.add_round(state, [base])
        return state

    def add_round(self, state: KernelState, candidates: list) -> None:
        k = state.kernel.name
        state.round += 1
        join_deps: dict[str, Dep] = {"base_source": Dep(state.source_task, "source")}
        if state.round == 1:
            # What the strategy needs from ingest and translate travels with the first join, so the
            # driver need not fetch those results (on Ray they arrive only at the end).
            join_deps["original_source"] = Dep(f"{k}/ingest", "source")
            if state.source_task.endswith("/translate"):
                join_deps["hazards"] = Dep(state.source_task, "hazards")
        for cand in candidates:
            state.candidate_ids.add(cand.id)
            self.add_candidate(state, cand)
            for stage in ("compile", "predict", "validate", "bench"):
                join_deps[f"{cand.id}|{stage}"] = Dep(f"{cand.id}.{stage}", RESULT)
        self.graph.add(Task(id=f"{k}/search-{state.round}", stage="search", kernel=k,
                            inputs={"candidates": [c.to_dict() for c in candidates]}, deps=join_deps,
                            join=True, notify=True))

    def add_candidate(self, state: KernelState, cand: Any) -> None:
        # A candidate launched its own way (an operator shrank the grid) is compiled, validated and timed
        # with its launches: every stage reads them from the spec it is given.
        kernel = cand.kernel_spec(state.kernel)
        params = {**kernel.defaults, **cand.params}
        common = {"kernel": kernel, "library": self.library, "target": self.target, "params": params}
        source_in: dict[str, Any] = {"source": cand.source} if cand.source else {}
        source_dep = {} if cand.source else {"source": Dep(state.source_task, "source")}
        flags = self.library.compile_flags if self.library.dialect == self.target.dialect else self.translated_flags
        cid = cand.id
        self.graph.add(Task(id=f"{cid}.compile", stage="compile", kernel=kernel.name, candidate_id=cid,
                            inputs={**common, **source_in, "library_flags": flags}, deps=dict(source_dep)))
        # The performance model predicts from the compile; a candidate it rules out against the
        # kernel's reference (``state.gate``, set by the search driver) is neither validated nor timed.
        gate = state.gate if cand.parent else None
        self.graph.add(Task(id=f"{cid}.predict", stage="predict", kernel=kernel.name, candidate_id=cid,
                            inputs={"kernel": kernel, "target": self.target, "params": params, **source_in,
                                    "gate": gate},
                            deps={**source_dep, "compiled": Dep(f"{cid}.compile")}))
        gpu = {"needs_gpu": self.use_device, "accelerator_type": self.target.accelerator_type}
        # On the emulator validation needs the source, not the target binary; it still waits for the
        # target compile so that only what builds for the target is validated.
        compiled_dep = {"compiled": Dep(f"{cid}.compile")} if self.use_device else {}
        val_inputs = {**common, **source_in, "use_device": self.use_device}
        if not self.use_device:
            val_inputs["compiled"] = {}
        self.graph.add(Task(id=f"{cid}.validate", stage="validate", kernel=kernel.name, candidate_id=cid,
                            inputs=val_inputs, deps={**source_dep, **compiled_dep},
                            after=[f"{cid}.compile", f"{cid}.predict"], **gpu))
        # The base is timed at every bench size and dtype beside the vendor baseline; search candidates
        # only where the score is taken (first bench size, primary dtype), which keeps device time small.
        predicted = {} if self.use_device else {"model_id": self.model_id, **source_in}
        # A base timed at the primary point only still gets the vendor library beside it (base_vendor).
        vendor = ({"vendor": True} if self.use_device and not self.base_full and self.base_vendor
                  and not cand.parent else {})
        self.graph.add(Task(id=f"{cid}.bench", stage="bench", kernel=kernel.name, candidate_id=cid,
                            inputs={**common, "use_device": self.use_device,
                                    "full": self.base_full and not cand.parent, **vendor, **predicted,
                                    **({"profile": True} if self.profile else {})},
                            deps={"compiled": Dep(f"{cid}.compile"), **({} if self.use_device else source_dep)},
                            after=[f"{cid}.validate"], **gpu))
