"""Many compiles at once. Compilers are subprocesses, so a thread pool is enough to keep the
cores busy; the pool is bounded by the core count so a machine is not oversubscribed."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from portkern.errors import PortkernError
from portkern.model import CompileOptions, CompileResult, Target


@dataclass
class CompileJob:
    source: str
    target: Target
    options: CompileOptions = field(default_factory=CompileOptions)
    name: str = "kernel"
    backend: object | None = None    # None: the backend the target names


@dataclass
class CompileOutcome:
    job: CompileJob
    result: CompileResult | None = None
    error: PortkernError | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None


def _run(job: CompileJob) -> CompileOutcome:
    from portkern import backends

    backend = job.backend or backends.for_target(job.target)
    try:
        return CompileOutcome(job, result=backend.compile(job.source, job.target, job.options, name=job.name))
    except PortkernError as exc:
        return CompileOutcome(job, error=exc)


def compile_many(jobs: list[CompileJob], max_workers: int | None = None) -> list[CompileOutcome]:
    """Compile every job; outcomes come back in job order. A failed job carries its typed error and
    does not stop the others."""
    workers = max(1, min(max_workers or os.cpu_count() or 1, len(jobs) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="portkern-compile") as pool:
        return list(pool.map(_run, jobs))
