"""What every runner offers: compile through a backend, open a session in a worker, run cases.

A runner (emulator, CUDA device, HIP device) turns a Case into the buffers the kernel left behind.
Sessions live only inside a worker process (contract 5): the caller never loads device code.
"""

from __future__ import annotations

import abc
import importlib
from typing import Any

import numpy as np

from portkern.errors import ConfigError
from portkern.harness.inputs import Case
from portkern.model import Availability, CompileOptions, CompileResult, Target

RUNNERS = {"emu": "portkern.harness.runners.emu:EmuRunner",
           "cuda": "portkern.harness.runners.cuda:CudaRunner",
           "hip": "portkern.harness.runners.hip:HipRunner"}


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
    compile_backend: str = ""                # backend package name, e.g. "cuda"

    @abc.abstractmethod
    def available(self) -> Availability: ...

    @abc.abstractmethod
    def open_session(self, compiled: CompileResult, target: Target) -> Session:
        """Called inside the worker process."""

    def worker_env(self, compiled: CompileResult) -> dict[str, str]:
        """Environment the worker process needs to load ``compiled`` (none by default)."""
        return {}

    def compile_options(self, target: Target, entries: list[str], extra: CompileOptions | None) -> CompileOptions:
        opts = CompileOptions.from_dict(extra.to_dict()) if extra else CompileOptions()
        opts.entries = list(entries)
        return opts

    def compile(self, source: str, target: Target, entries: list[str], *, extra: CompileOptions | None = None,
                name: str = "kernel") -> CompileResult:
        from portkern import backends

        backend = backends.get(self.compile_backend)
        return backend.compile(source, target, self.compile_options(target, entries, extra), name=name)


def get_runner(name: str) -> Runner:
    if name not in RUNNERS:
        raise ConfigError(f"unknown runner '{name}'", hint=f"known runners: {', '.join(sorted(RUNNERS))}")
    module, _, cls = RUNNERS[name].partition(":")
    return getattr(importlib.import_module(module), cls)()


def runner_for_target(target: Target, *, prefer_device: bool = True) -> Runner:
    """The device runner of the target's vendor when it is usable here, else the emulator."""
    if prefer_device:
        device = get_runner({"nvidia": "cuda", "amd": "hip"}[target.vendor])
        if device.available().ok:
            return device
    return get_runner("emu")


def kernel_args(case: Case, names: list[str], pointer_of: Any) -> list[Any]:
    """Arguments of one launch in order: ``pointer_of(name)`` for arrays, exact-typed scalars otherwise."""
    out = []
    for n in names:
        out.append(pointer_of(n) if n in case.arrays else case.scalars[n])
    return out
