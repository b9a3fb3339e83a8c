"""The Ray executor: the same DAG, as Ray tasks chained by object refs.

Each task is submitted as soon as its upstream tasks are submitted, with their object refs as
top-level arguments, so Ray resolves them without the driver fetching anything. Device stages ask
for ``num_gpus=1`` and the target's accelerator type; others ask for one CPU. The driver fetches
only the results that grow the graph (the search joins); everything else comes back in one
``ray.get`` at the end.
"""

from __future__ import annotations

from typing import Any

from portkern.errors import ConfigError, ToolMissingError
from portkern.pipeline.dag import StageResult, Task, TaskGraph, execute_task
from portkern.pipeline.local import OnResult, OnStart


def _ray():
    try:
        import ray
    except ImportError as exc:
        raise ToolMissingError("ray", "the Ray executor (--executor ray)",
                               "pip install 'portkern[ray]' (or use --executor local)") from exc
    return ray


def _run_task(task: Task, cache_root: str | None, toolchain: dict[str, str], upstream_ids: list[str],
              *upstream_results: StageResult) -> StageResult:
    return execute_task(task, dict(zip(upstream_ids, upstream_results)), cache_root, toolchain)


def task_options(task: Task) -> dict[str, Any]:
    """Resources a task asks Ray for: a GPU of the right kind only for device stages."""
    if task.needs_gpu:
        opts: dict[str, Any] = {"num_gpus": 1, "num_cpus": 1}
        if task.accelerator_type:
            opts["accelerator_type"] = task.accelerator_type
        return opts
    return {"num_cpus": 1}


def cluster_has_accelerator(accelerator_type: str) -> bool:
    ray = _ray()
    resources = ray.cluster_resources()
    return resources.get("GPU", 0) > 0 and f"accelerator_type:{accelerator_type}" in resources


class RayExecutor:
    name = "ray"

    def __init__(self, address: str = "", init_kwargs: dict[str, Any] | None = None):
        self.address = address
        self.init_kwargs = dict(init_kwargs or {})
        self._started_here = False

    def connect(self) -> None:
        ray = _ray()
        if ray.is_initialized():
            return
        kwargs = dict(self.init_kwargs)
        kwargs.setdefault("include_dashboard", False)
        kwargs.setdefault("log_to_driver", False)
        try:
            ray.init(address=self.address or None, **kwargs)
        except ConnectionError as exc:
            raise ConfigError(f"cannot reach a Ray cluster at '{self.address}': {exc}",
                              hint="start one with `ray start --head`, fix --ray-address, or use --executor local") from exc
        self._started_here = True

    def shutdown(self) -> None:
        if self._started_here:
            _ray().shutdown()
            self._started_here = False

    def run(self, graph: TaskGraph, *, cache_root: str | None, toolchain: dict[str, str],
            on_start: OnStart, on_result: OnResult) -> dict[str, StageResult]:
        ray = _ray()
        self.connect()
        remote = ray.remote(_run_task)
        refs: dict[str, Any] = {}
        watched: dict[Any, Task] = {}
        results: dict[str, StageResult] = {}
        submitted: set[str] = set()
        while True:
            # A task can go as soon as its upstream tasks have refs: Ray waits for the values.
            ready = graph.ready(submitted, submitted)
            while ready:
                for task in ready:
                    ups = task.upstream()
                    ref = remote.options(**task_options(task)).remote(
                        task, cache_root, toolchain, ups, *[refs[u] for u in ups])
                    refs[task.id] = ref
                    submitted.add(task.id)
                    on_start(task)
                    if task.notify:
                        watched[ref] = task
                ready = graph.ready(submitted, submitted)
            if not watched:
                break
            done, _ = ray.wait(list(watched), num_returns=1)
            for ref in done:
                task = watched.pop(ref)
                results[task.id] = ray.get(ref)
                on_result(task, results[task.id])
        rest = [t for t in graph.tasks() if t.id not in results]
        for task, res in zip(rest, ray.get([refs[t.id] for t in rest])):
            results[task.id] = res
            on_result(task, res)
        return results
