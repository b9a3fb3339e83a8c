"""The local executor: a thread pool for CPU stages (compilers and emulator workers are separate
processes, so threads are enough to keep every core busy) and one slot per GPU for device stages."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from portkern.pipeline.dag import StageResult, Task, TaskGraph, execute_task

OnStart = Callable[[Task], None]
OnResult = Callable[[Task, StageResult], None]


class LocalExecutor:
    name = "local"

    def __init__(self, max_workers: int = 0, gpu_slots: int = 1):
        self.max_workers = max_workers or os.cpu_count() or 1
        self.gpu_slots = max(1, gpu_slots)

    def run(self, graph: TaskGraph, *, cache_root: str | None, toolchain: dict[str, str],
            on_start: OnStart, on_result: OnResult) -> dict[str, StageResult]:
        """Run the graph to completion; ``on_result`` may add tasks to it (the search does)."""
        results: dict[str, StageResult] = {}
        started: set[str] = set()
        running: dict[Future, Task] = {}
        with ThreadPoolExecutor(self.max_workers, thread_name_prefix="portkern-cpu") as cpu, \
                ThreadPoolExecutor(self.gpu_slots, thread_name_prefix="portkern-gpu") as gpu:
            while True:
                for task in graph.ready(set(results), started):
                    upstream = {u: results[u] for u in task.upstream()}
                    pool = gpu if task.needs_gpu else cpu
                    running[pool.submit(execute_task, task, upstream, cache_root, toolchain)] = task
                    started.add(task.id)
                    on_start(task)
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    task = running.pop(fut)
                    try:
                        res = fut.result()
                    except Exception as exc:  # execute_task records stage errors; this is the executor's own
                        res = StageResult(stage=task.stage, task=task.id, kernel=task.kernel,
                                          candidate_id=task.candidate_id, status="failed", cause="internal",
                                          reason=f"{type(exc).__name__}: {exc}")
                    results[task.id] = res
                    on_result(task, res)
        return results
