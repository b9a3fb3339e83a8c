"""The stage DAG: tasks, their dependencies, and the rule that runs one task.

A task is one stage applied to one kernel (and candidate). It names its stage function by name (so
it pickles to any worker), carries its constant inputs, and takes the rest from the payloads of the
tasks it depends on. ``execute_task`` is the same function on every executor: it resolves inputs,
consults the cache, runs the stage, and turns errors into a failed ``StageResult``.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from portkern.errors import PortkernError, StoreError
from portkern.pipeline.cache import StageCache, stage_key
from portkern.pipeline.result import StageResult
from portkern.pipeline.stages import STAGES

RESULT = "@result"


@dataclass
class Dep:
    """An input taken from another task: its payload (or one key of it)."""

    task: str
    key: str = ""                       # "" = the whole payload; RESULT = the StageResult itself


@dataclass
class Task:
    id: str                             # "<kernel>/<candidate>.<stage>" or "<kernel>/<stage>"
    stage: str
    kernel: str
    candidate_id: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)   # constant inputs
    deps: dict[str, Dep] = field(default_factory=dict)     # inputs from other tasks
    after: list[str] = field(default_factory=list)         # ordering-only dependencies
    needs_gpu: bool = False
    accelerator_type: str = ""
    join: bool = False                  # runs even when dependencies failed (it aggregates them)
    notify: bool = False                # the driver must see its result at once (it expands the graph)

    def upstream(self) -> list[str]:
        return sorted({d.task for d in self.deps.values()} | set(self.after))


class TaskGraph:
    """A networkx DiGraph of tasks that may grow while it runs (search adds candidates)."""

    def __init__(self) -> None:
        self.g = nx.DiGraph()

    def add(self, task: Task) -> None:
        if task.id in self.g:
            raise StoreError(f"task '{task.id}' is already in the graph",
                             hint="candidate ids must be unique within a kernel")
        for up in task.upstream():
            if up not in self.g:
                raise StoreError(f"task '{task.id}' depends on unknown task '{up}'")
        self.g.add_node(task.id, task=task)
        for up in task.upstream():
            self.g.add_edge(up, task.id)
        if not nx.is_directed_acyclic_graph(self.g):
            self.g.remove_node(task.id)
            raise StoreError(f"adding task '{task.id}' would make a cycle")

    def task(self, task_id: str) -> Task:
        return self.g.nodes[task_id]["task"]

    def tasks(self) -> list[Task]:
        return [self.g.nodes[n]["task"] for n in nx.topological_sort(self.g)]

    def __contains__(self, task_id: str) -> bool:
        return task_id in self.g

    def __len__(self) -> int:
        return self.g.number_of_nodes()

    def ready(self, done: set[str], started: set[str]) -> list[Task]:
        """Tasks not started whose upstream tasks are all done, in topological order."""
        out = []
        for n in nx.topological_sort(self.g):
            if n in done or n in started:
                continue
            if all(p in done for p in self.g.predecessors(n)):
                out.append(self.g.nodes[n]["task"])
        return out


# --------------------------------------------------------------------------- running one task


def resolve_inputs(task: Task, upstream: dict[str, StageResult]) -> dict[str, Any]:
    args = dict(task.inputs)
    for name, dep in task.deps.items():
        res = upstream[dep.task]
        if dep.key == RESULT:
            args[name] = res
        else:
            args[name] = res.payload.get(dep.key) if dep.key else res.payload
    return args


def blocked_by(task: Task, upstream: dict[str, StageResult]) -> StageResult | None:
    if task.join:
        return None
    for up in task.upstream():
        res = upstream.get(up)
        if res is not None and not res.usable:
            return res
    return None


def execute_task(task: Task, upstream: dict[str, StageResult], cache_root: str | None,
                 toolchain: dict[str, str]) -> StageResult:
    """Run one task: skip it if a dependency failed, else take it from the cache or compute it."""
    base = dict(stage=task.stage, task=task.id, kernel=task.kernel, candidate_id=task.candidate_id)
    blocker = blocked_by(task, upstream)
    if blocker is not None:
        what = "failed" if blocker.status == "failed" else "was skipped"
        return StageResult(**base, status="skipped", cause="dependency-failed",
                           reason=f"{blocker.task} {what}" + (f" ({blocker.cause})" if blocker.cause else ""))
    spec = STAGES[task.stage]
    try:
        args = resolve_inputs(task, upstream)
    except KeyError as exc:
        return StageResult(**base, status="failed", cause="internal",
                           reason=f"missing upstream result {exc} for {task.id}")
    key = ""
    cache = StageCache(cache_root) if (cache_root and spec.cacheable) else None
    if cache is not None:
        try:
            keyed = {k: (v.payload if isinstance(v, StageResult) else v)
                     for k, v in (spec.key(args) if spec.key else args).items()}
            key = stage_key(task.stage, spec.version, keyed, {k: toolchain.get(k, "") for k in spec.toolchain})
        except StoreError as exc:  # refuse to cache (and to run on) inputs that cannot be keyed
            return StageResult(**base, status="failed", cause=exc.cause, reason=str(exc))
        except PortkernError:      # bad inputs: the stage itself reports them (uncached)
            cache = None
        hit = cache.get(key) if cache is not None else None
        if hit is not None:
            res = StageResult.from_dict(hit)
            res.task, res.kernel, res.candidate_id = task.id, task.kernel, task.candidate_id
            res.cached = True
            res.cache_key = key
            return res
    t0 = time.perf_counter()
    try:
        outcome = spec.fn(**args)
    except PortkernError as exc:
        res = StageResult(**base, status="failed", cause=exc.cause, reason=str(exc))
    except Exception as exc:  # a bug in a stage must not end the run; record where it happened
        tb = traceback.format_exc(limit=6)
        res = StageResult(**base, status="failed", cause="internal",
                          reason=f"{type(exc).__name__}: {exc}\n{tb}")
    else:
        if isinstance(outcome, StageResult):
            res = outcome
            res.stage, res.task, res.kernel, res.candidate_id = task.stage, task.id, task.kernel, task.candidate_id
        else:
            res = StageResult(**base, payload=outcome)
    res.seconds = time.perf_counter() - t0
    res.cache_key = key
    # Downstream tasks see the same form whether a result is fresh or from the cache.
    res = StageResult.from_dict(res.to_dict())
    # Failures of the code under test (compile errors, mismatches) are facts about its content and
    # are cached too; failures of the machine (missing tool, timeout, crash, internal) are not.
    if cache is not None and (res.status != "failed" or res.cause in spec.cacheable_failures):
        cache.put(key, res.to_dict())
    return res
