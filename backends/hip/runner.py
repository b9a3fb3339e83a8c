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
from portkern.harness.runners.base import Session
from portkern.harness.runners.device import DeviceRunner, DriverApi
from portkern.model import Availability, CompileOptions, CompileResult, Target

_INSTALL = "pip install 'portkern[rocm]' (hip-python matching the ROCm version) on a machine with ROCm"


def _hip_module() -> Any:
    try:
        return importlib.import_module("hip.hip")
    except ImportError as exc:
        raise ToolMissingError("hip-python", "running kernels on AMD GPUs", _INSTALL) from exc


class HipDriverApi(DriverApi):
    vendor = "amd"
    NAMES = {"free": "hipFree", "h2d_async": "hipMemcpyHtoDAsync", "d2h_async": "hipMemcpyDtoHAsync",
             "memset_d8_async": "hipMemsetD8Async", "d2d_async": "hipMemcpyDtoDAsync",
             "module_load_data": "hipModuleLoadData", "module_get_function": "hipModuleGetFunction",
             "stream_sync": "hipStreamSynchronize", "event_record": "hipEventRecord",
             "event_destroy": "hipEventDestroy", "event_elapsed": "hipEventElapsedTime",
             "ctx_sync": "hipDeviceSynchronize", "stream_destroy": "hipStreamDestroy",
             "module_unload": "hipModuleUnload"}

    def __init__(self) -> None:
        super().__init__(_hip_module())
        self._index = 0
        self._ready = False

    def init(self, device_index: int) -> None:
        if not self._ready:                   # once per process: a worker that stays keeps its device
            self.call("hipInit", 0)
            self._ready = True
        self._index = device_index
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


class HipRunner(DeviceRunner):
    name = "hip"
    driver_class = HipDriverApi
    visible_devices_variable = "HIP_VISIBLE_DEVICES"

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
        return super().open_session(compiled, target)
