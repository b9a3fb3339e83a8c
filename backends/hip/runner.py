"""The AMD device runner: code object loaded with hip-python's module API; shares DeviceSession with CUDA.

Imports on any machine; without hip-python or an AMD GPU, ``available()`` says why and opening a
session raises ToolMissingError.
"""

from __future__ import annotations

import importlib
import os
import shutil
from functools import lru_cache
from typing import Any

from portkern.backends.hip.baseline import time_rocblas

from portkern.errors import ToolMissingError
from portkern.harness.baselines import BaselineTiming
from portkern.harness.runners.base import Runner, Session
from portkern.harness.runners.device import DeviceSession, DriverApi
from portkern.model import Availability, CompileOptions, CompileResult, Target

_INSTALL = "pip install 'portkern[rocm]' (hip-python matching the ROCm version) on a machine with ROCm"


def _hip_module() -> Any:
    try:
        return importlib.import_module("hip.hip")
    except ImportError as exc:
        raise ToolMissingError("hip-python", "running kernels on AMD GPUs", _INSTALL) from exc


class HipDriverApi(DriverApi):
    vendor = "amd"
    NAMES = {"free": "hipFree", "h2d": "hipMemcpyHtoD", "d2h": "hipMemcpyDtoH",
             "memset_d8_async": "hipMemsetD8Async", "d2d_async": "hipMemcpyDtoDAsync",
             "module_load_data": "hipModuleLoadData", "module_get_function": "hipModuleGetFunction",
             "stream_sync": "hipStreamSynchronize", "event_record": "hipEventRecord",
             "event_destroy": "hipEventDestroy", "event_elapsed": "hipEventElapsedTime"}

    def __init__(self) -> None:
        super().__init__(_hip_module())
        self._index = 0

    def init(self, device_index: int) -> None:
        self._index = device_index
        self.call("hipInit", 0)
        self.call("hipSetDevice", device_index)

    def device_name(self) -> str:
        props = self.call("hipGetDeviceProperties", self._index)
        name = props.name.decode() if isinstance(props.name, bytes) else str(props.name)
        arch = getattr(props, "gcnArchName", b"")
        arch = arch.decode() if isinstance(arch, bytes) else str(arch)
        return f"{name} ({arch})" if arch else name

    def alloc(self, nbytes: int) -> int:
        return int(self.call("hipMalloc", nbytes))

    def stream_create(self) -> Any:
        return self.call("hipStreamCreateWithFlags", 1)   # hipStreamNonBlocking

    def event_create(self) -> Any:
        return self.call("hipEventCreate")

    def launch(self, fn: Any, grid: tuple[int, int, int], block: tuple[int, int, int], shared_bytes: int,
               stream: Any, params_address: int) -> None:
        self.call("hipModuleLaunchKernel", fn, *grid, *block, shared_bytes, stream, params_address, None)

    def allow_dynamic_shared(self, fn: Any, nbytes: int) -> None:
        # LDS is at most 64 KiB per workgroup on CDNA; the launch itself fails clearly above that.
        return None


@lru_cache(maxsize=1)
def _probe() -> tuple[bool, str, list[str]]:
    try:
        _hip_module()
    except ToolMissingError:
        return False, f"hip-python is not installed ({_INSTALL})", []
    if not os.path.exists("/dev/kfd") and shutil.which("rocm-smi") is None:
        return False, "no AMD GPU driver (/dev/kfd missing): no AMD GPU on this machine", []
    return True, "", ["amd-gpu"]


def prepare_worker() -> None:
    """Run in a fresh worker before its syscall filter goes on: the driver's initialisation makes calls
    the filter denies (and fails with an operating-system error after it); later calls do not."""
    HipDriverApi().init(0)


class HipRunner(Runner):
    name = "hip"

    def available(self) -> Availability:
        ok, reason, names = _probe()
        return Availability(backend="hip-device", ok=ok, reason=reason, devices=names)

    def baseline(self, family: str, sizes: dict[str, int], dtype: str, *, trials: int, warmup: int,
                 flush_bytes: int) -> BaselineTiming | None:
        return time_rocblas(family, sizes, dtype, trials=trials, warmup=warmup, flush_bytes=flush_bytes)

    def compile_options(self, target: Target, entries: list[str], extra: CompileOptions | None) -> CompileOptions:
        opts = super().compile_options(target, entries, extra)
        opts.code_type = opts.code_type or "hsaco"
        return opts

    def open_session(self, compiled: CompileResult, target: Target) -> Session:
        avail = self.available()
        if not avail.ok:
            raise ToolMissingError("an AMD GPU with hip-python", "running kernels on AMD GPUs", avail.reason)
        return DeviceSession(HipDriverApi(), compiled, target)

    def worker_env(self, compiled: CompileResult) -> dict[str, str]:
        return {**super().worker_env(compiled), "PORTKERN_WORKER_INIT": f"{__name__}:prepare_worker"}
