"""The backend contract: compile (cached by content), load, launch; and what is available.

    compile(source, target, options) -> CompileResult
    load(compiled) -> Program
    Program(*args, grid=, block=, shared_bytes=, wait=) -> seconds (when wait) else None
    available() -> Availability
    runner() -> Runner: runs harness cases on the backend's device (or the CPU) inside a worker, and
                times the vendor-library baseline there
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any

from portkern.model import Availability, CompileOptions, CompileResult, Target

if TYPE_CHECKING:
    from portkern.harness.runners.base import Runner


class Program(abc.ABC):
    """A loaded kernel entry point."""

    symbol: str

    @abc.abstractmethod
    def __call__(self, *args: Any, grid: tuple[int, int, int], block: tuple[int, int, int],
                 shared_bytes: int = 0, wait: bool = False) -> float | None:
        """Launch once. With ``wait`` returns the elapsed seconds."""


class Backend(abc.ABC):
    name: str = ""

    @abc.abstractmethod
    def available(self) -> Availability: ...

    @abc.abstractmethod
    def compile(self, source: str, target: Target, options: CompileOptions | None = None,
                *, name: str = "kernel") -> CompileResult: ...

    def load(self, compiled: CompileResult, entry: str) -> Program:
        """Load ``entry`` (an expression from ``options.entries`` or a symbol) from ``compiled``.

        Program arguments: numpy arrays (emulator: host memory) or device buffers (GPU runners) for
        pointers, numpy scalars (np.int32, np.float32, ...) for by-value arguments, so the C type is exact.
        """
        raise NotImplementedError(f"backend '{self.name}' cannot load binaries on this machine")

    @abc.abstractmethod
    def runner(self) -> Runner:
        """The runner of this backend's binaries: the device runner of a GPU vendor (launch, events,
        timing, vendor-library baseline), the CPU runner of the emulator."""
