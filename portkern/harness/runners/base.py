"""What every runner offers: compile through a backend, open a session in a worker, run cases.

A runner turns a Case into the buffers the kernel left behind. Each backend folder owns its runner
(``backends/<name>/runner.py``: the emulator's CPU runner, the CUDA and HIP device runners, which share
``device.py``); ``get_runner(name)`` asks the backend of that name. Sessions live only inside a worker
process (contract 5): the caller never loads device code.

Jobs go to a worker through ``Runner.run_job``. A runner whose candidates are host code (the
emulator) gets a fresh worker per call. A device runner (``persistent_worker``) keeps one worker per
GPU across candidates: its context, loaded runtime and libraries stay, each candidate's module is
unloaded after its call, and a probe after each call (``worker_probe``) stops a worker whose device
was left unusable. ``validate.persistent_worker: false`` in portkern.yaml (or
``PORTKERN_VALIDATE_PERSISTENT_WORKER=0``) gives every call a fresh worker again.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from portkern import backends
from portkern.harness.inputs import Case
from portkern.model import Availability, CompileOptions, CompileResult, Target

if TYPE_CHECKING:
    from portkern.backends.base import Backend

    from portkern.harness.baselines import BaselineTiming


class Session(abc.ABC):
    """A loaded binary on one device (or the emulator), inside a worker."""

    device: str = ""
    timing_method: str = "estimate"          # "device-events" where the session can time

    @abc.abstractmethod
    def run(self, case: Case, buffers: dict[str, list[np.ndarray]], repeats: int = 1) -> dict[str, list[np.ndarray]]:
        """Launch the case's kernels in order on ``buffers`` (host copies) and return what they hold after.

        With ``repeats`` > 1 the same device buffers (same addresses) are refilled with the starting
        contents (outputs poisoned again) and launched again: a kernel that skips work it believes it
        has already done in those buffers leaves the poison behind.
        """

    def close(self) -> None:  # noqa: B027 - most sessions hold nothing to free
        """Free what the session holds."""


def persistent_workers_enabled() -> bool:
    """validate.persistent_worker from portkern.yaml or PORTKERN_VALIDATE_PERSISTENT_WORKER."""
    from portkern.config import load_config

    return bool(load_config()["validate"]["persistent_worker"])


class Runner(abc.ABC):
    name: str = ""
    times_on_device: bool = True             # False: a timing is an estimate (the emulator)
    persistent_worker: bool = False          # True: one worker per device serves many candidates
    # Modules a worker that stays imports before its syscall filter: every job it will be sent.
    worker_jobs: tuple[str, ...] = ("portkern.harness.validate", "portkern.harness.bench")
    limit_worker_memory: bool = False        # address-space limit (not for GPU runtimes' huge reservations)

    def __init__(self, backend: Backend):
        self.backend = backend               # the backend that builds what this runner loads

    @abc.abstractmethod
    def available(self) -> Availability: ...

    @abc.abstractmethod
    def open_session(self, compiled: CompileResult, target: Target) -> Session:
        """Called inside the worker process."""

    def device_label(self, compiled: CompileResult, target: Target) -> str:
        """What a validation result names as the device it ran on."""
        return target.display_name

    def wavefront(self, compiled: CompileResult, target: Target) -> int:
        """The wavefront width the binary runs with."""
        return target.wavefront

    def worker_env(self, compiled: CompileResult, device_index: int = 0) -> dict[str, str]:
        """Environment the worker process needs to load ``compiled`` on device ``device_index``: by
        default the backend path, so a worker finds a backend that lives outside the tree (a worker
        that stays is restarted when this changes)."""
        return backends.worker_env()

    def device_count(self) -> int:
        """Devices this runner can use at once (one worker that stays per device)."""
        return 1

    def worker_probe(self) -> Callable[[], str] | None:
        """A top-level function run in a worker that stays after each call: '' while its device still
        works, else why not (a sticky error). None: no check."""
        return None

    def run_job(self, fn: Callable[[Any], Any], job: Any, *, compiled: CompileResult, timeout_s: float,
                label: str) -> Any:
        """``fn(job)`` in a sandboxed worker: a fresh one, or this runner's worker that stays."""
        from portkern import worker

        if not self.persistent_worker:
            return worker.run_in_worker(fn, job, timeout_s=timeout_s, label=label,
                                        env=self.worker_env(compiled) or None, limit_memory=self.limit_worker_memory)
        keys = [(self.name, index) for index in range(max(self.device_count(), 1))]
        if persistent_workers_enabled():
            return worker.pooled_call(keys, fn, job, timeout_s=timeout_s, label=label,
                                      env=lambda key: self.worker_env(compiled, device_index=key[1]),
                                      probe=self.worker_probe(), limit_memory=self.limit_worker_memory,
                                      preload=self.worker_jobs)
        # Fresh workers, still one candidate at a time per device (timings must not overlap).
        with worker.worker_pool().lease(keys) as key:
            return worker.run_in_worker(fn, job, timeout_s=timeout_s, label=label,
                                        env=self.worker_env(compiled, device_index=key[1]) or None,
                                        limit_memory=self.limit_worker_memory)

    def compile_options(self, target: Target, entries: list[str], extra: CompileOptions | None) -> CompileOptions:
        opts = CompileOptions.from_dict(extra.to_dict()) if extra else CompileOptions()
        opts.entries = list(entries)
        return opts

    def compile(self, source: str, target: Target, entries: list[str], *, extra: CompileOptions | None = None,
                name: str = "kernel") -> CompileResult:
        return self.backend.compile(source, target, self.compile_options(target, entries, extra), name=name)

    def baseline(self, family: str, sizes: dict[str, int], dtype: str, *, trials: int, warmup: int,
                 flush_bytes: int) -> BaselineTiming | None:
        """The vendor library's routine for ``family`` timed like a candidate (inside the worker), or
        None where the vendor has none for it."""
        return None


def get_runner(name: str) -> Runner:
    """The runner of the backend called ``name`` (the target's ``backend``, or "emu")."""
    return backends.get(name).runner()


def kernel_args(case: Case, names: list[str], pointer_of: Any) -> list[Any]:
    """Arguments of one launch in order: ``pointer_of(name)`` for arrays, exact-typed scalars otherwise."""
    out = []
    for n in names:
        out.append(pointer_of(n) if n in case.arrays else case.scalars[n])
    return out
