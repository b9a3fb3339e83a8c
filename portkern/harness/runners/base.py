"""What every runner offers: compile through a backend, open a session in a worker, run cases.

A runner turns a Case into the buffers the kernel left behind. Each backend folder owns its runner
(``backends/<name>/runner.py``: the emulator's CPU runner, the CUDA and HIP device runners, which share
``device.py``); ``get_runner(name)`` asks the backend of that name. Sessions live only inside a worker
process (contract 5): the caller never loads device code.
"""

from __future__ import annotations

import abc
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


class Runner(abc.ABC):
    name: str = ""
    times_on_device: bool = True             # False: a timing is an estimate (the emulator)

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

    def worker_env(self, compiled: CompileResult) -> dict[str, str]:
        """Environment the worker process needs to load ``compiled``: by default the backend path, so a
        worker finds a backend that lives outside the tree (workers are reused per environment)."""
        return backends.worker_env()

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
