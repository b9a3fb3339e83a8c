"""The CPU emulator runner: kernels run on host buffers with the target's wavefront width."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from portkern.harness.inputs import Case
from portkern.harness.runners.base import Runner, Session, kernel_args
from portkern.model import Availability, CompileOptions, CompileResult, Target

if TYPE_CHECKING:
    from portkern.backends.emu.backend import EmuBackend as Backend


class EmuSession(Session):
    timing_method = "estimate"

    def __init__(self, backend: Backend, compiled: CompileResult, target: Target):
        self._backend = backend
        self._compiled = compiled
        self._programs: dict[str, object] = {}
        wave = compiled.options.wavefront or target.wavefront
        self.device = f"cpu-emulator (wave{wave})"

    def _program(self, entry: str):
        if entry not in self._programs:
            self._programs[entry] = self._backend.load(self._compiled, entry)
        return self._programs[entry]

    def close(self) -> None:
        # The programs of one build share its kept fibers: releasing through any one frees them.
        for program in self._programs.values():
            program.release()
            break
        self._programs.clear()

    def run(self, case: Case, buffers: dict[str, list[np.ndarray]], repeats: int = 1) -> dict[str, list[np.ndarray]]:
        start = {n: [b.copy() for b in bl] for n, bl in buffers.items()} if repeats > 1 else {}
        for r in range(repeats):
            if r:
                for n, bl in buffers.items():
                    for b, original in zip(bl, start[n]):
                        np.copyto(b, original)
            self._launch_all(case, buffers)
        return buffers

    def _launch_all(self, case: Case, buffers: dict[str, list[np.ndarray]]) -> None:
        # Arrays of per-batch addresses must outlive the launches that read them.
        address_tables: dict[str, np.ndarray] = {}

        def pointer_of(name: str):
            arg = case.arrays[name]
            if arg.batched == "pointers":
                if name not in address_tables:
                    address_tables[name] = np.array([b.ctypes.data for b in buffers[name]], dtype=np.uint64)
                return address_tables[name]
            return buffers[name][0]

        for plan in case.launches:
            if 0 in plan.grid or 0 in plan.block:
                continue  # an empty launch, as the library's launcher would skip it
            program = self._program(plan.entry)
            program(*kernel_args(case, plan.args, pointer_of), grid=plan.grid, block=plan.block,
                    shared_bytes=plan.shared_bytes, wait=True)


class EmuRunner(Runner):
    name = "emu"
    times_on_device = False
    limit_worker_memory = True     # candidates are host code: a fresh, memory-limited worker per call

    def device_label(self, compiled: CompileResult, target: Target) -> str:
        return (f"cpu-emulator (wave{self.wavefront(compiled, target)}; "
                f"validated on the emulator only, not on {target.name})")

    def wavefront(self, compiled: CompileResult, target: Target) -> int:
        return compiled.options.wavefront or target.wavefront

    def available(self) -> Availability:
        return self.backend.available()

    def compile_options(self, target: Target, entries: list[str], extra: CompileOptions | None) -> CompileOptions:
        opts = super().compile_options(target, entries, extra)
        opts.wavefront = opts.wavefront or target.wavefront
        return opts

    def worker_env(self, compiled: CompileResult, device_index: int = 0) -> dict[str, str]:
        # A sanitizer build needs its runtime preloaded into the worker.
        return {**super().worker_env(compiled, device_index), **self.backend.worker_env(compiled)}

    def open_session(self, compiled: CompileResult, target: Target) -> Session:
        return EmuSession(self.backend, compiled, target)
