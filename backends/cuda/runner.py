"""The NVIDIA device runner: cubin loaded with cuda-python's driver API, launched on harness buffers."""

from __future__ import annotations

import importlib
import shutil
import subprocess
import sys
from functools import lru_cache
from typing import Any

from portkern.backends.cuda.baseline import time_cublas

from portkern.harness.baselines import BaselineTiming
from portkern.harness.runners.device import DeviceRunner, DriverApi
from portkern.model import Availability, CompileOptions, Target

_INSTALL = "pip install 'portkern[cuda]' (cuda-python) on a machine with an NVIDIA driver"


def _driver_module() -> Any:
    for name in ("cuda.bindings.driver", "cuda.cuda"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("cuda-python is not installed")


_L2_SWEEP_PTX = b""".version 7.0
.target sm_70
.address_size 64

.visible .entry portkern_l2_sweep(
    .param .u64 portkern_l2_sweep_buf,
    .param .u64 portkern_l2_sweep_words,
    .param .u64 portkern_l2_sweep_sink
)
{
    .reg .pred %p<2>;
    .reg .b32 %r<12>;
    .reg .b64 %rd<10>;

    ld.param.u64 %rd1, [portkern_l2_sweep_buf];
    ld.param.u64 %rd2, [portkern_l2_sweep_words];
    ld.param.u64 %rd3, [portkern_l2_sweep_sink];
    cvta.to.global.u64 %rd1, %rd1;
    cvta.to.global.u64 %rd3, %rd3;
    mov.u32 %r1, %ctaid.x;
    mov.u32 %r2, %ntid.x;
    mov.u32 %r3, %tid.x;
    mov.u32 %r4, %nctaid.x;
    cvt.u64.u32 %rd4, %r3;
    mul.wide.u32 %rd5, %r1, %r2;
    add.u64 %rd4, %rd4, %rd5;
    mul.wide.u32 %rd6, %r4, %r2;
    mov.u32 %r5, 0;
SWEEP:
    setp.ge.u64 %p1, %rd4, %rd2;
    @%p1 bra DONE;
    shl.b64 %rd7, %rd4, 4;
    add.u64 %rd7, %rd1, %rd7;
    ld.global.v4.u32 {%r6, %r7, %r8, %r9}, [%rd7];
    xor.b32 %r5, %r5, %r6;
    xor.b32 %r5, %r5, %r7;
    xor.b32 %r5, %r5, %r8;
    xor.b32 %r5, %r5, %r9;
    add.u64 %rd4, %rd4, %rd6;
    bra SWEEP;
DONE:
    setp.ne.u32 %p1, %r5, -1640531527;
    @%p1 bra END;
    st.global.u32 [%rd3], %r5;
END:
    ret;
}
""" + b"\0"


class CudaDriverApi(DriverApi):
    vendor = "nvidia"
    NAMES = {"free": "cuMemFree", "h2d_async": "cuMemcpyHtoDAsync", "d2h_async": "cuMemcpyDtoHAsync",
             "memset_d8_async": "cuMemsetD8Async", "d2d_async": "cuMemcpyDtoDAsync",
             "module_load_data": "cuModuleLoadData", "module_get_function": "cuModuleGetFunction",
             "stream_sync": "cuStreamSynchronize", "event_record": "cuEventRecord",
             "event_destroy": "cuEventDestroy", "event_elapsed": "cuEventElapsedTime",
             "ctx_sync": "cuCtxSynchronize", "stream_destroy": "cuStreamDestroy", "module_unload": "cuModuleUnload"}

    # The cache sweep before each trial, in PTX the driver compiles for whatever GPU this is: every
    # thread reads 16-byte words a grid apart and folds them, and stores only if the fold hits a
    # constant, so the loads stay.
    L2_SWEEP = _L2_SWEEP_PTX

    def __init__(self) -> None:
        super().__init__(_driver_module())
        if not hasattr(self.mod, "cuEventElapsedTime") and hasattr(self.mod, "cuEventElapsedTime_v2"):
            self.NAMES = dict(self.NAMES, event_elapsed="cuEventElapsedTime_v2")
        self._device: Any = None
        self._ctx: Any = None

    def init(self, device_index: int) -> None:
        if self._ctx is not None:             # once per process: a worker that stays keeps its context
            self.call("cuCtxSetCurrent", self._ctx)
            return
        self.call("cuInit", 0)
        self._device = self.call("cuDeviceGet", device_index)
        # The primary context is the one the CUDA runtime (and so CuPy / PyTorch baselines) uses too.
        self._ctx = self.call("cuDevicePrimaryCtxRetain", self._device)
        self.call("cuCtxSetCurrent", self._ctx)

    def device_name(self) -> str:
        raw = self.call("cuDeviceGetName", 256, self._device)
        return bytes(raw).split(b"\0", 1)[0].decode()

    def alloc(self, nbytes: int) -> int:
        return int(self.call("cuMemAlloc", nbytes))

    def stream_create(self) -> Any:
        # Non-blocking: the harness's stream does not wait on (or for) the legacy default stream.
        return self.call("cuStreamCreate", 1)

    def event_create(self) -> Any:
        return self.call("cuEventCreate", 0)

    def launch(self, fn: Any, grid: tuple[int, int, int], block: tuple[int, int, int], shared_bytes: int,
               stream: Any, params_address: int) -> None:
        self.call("cuLaunchKernel", fn, *grid, *block, shared_bytes, stream, params_address, 0)

    def allow_dynamic_shared(self, fn: Any, nbytes: int) -> None:
        attr = self.mod.CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES
        self.call("cuFuncSetAttribute", fn, attr, nbytes)


@lru_cache(maxsize=1)
def _probe() -> tuple[bool, str, list[str]]:
    try:
        _driver_module()
    except ImportError:
        return False, f"cuda-python is not installed ({_INSTALL})", []
    if shutil.which("nvidia-smi") is None:
        return False, "no NVIDIA driver (nvidia-smi not found): no NVIDIA GPU on this machine", []
    # Ask in a child process: initialising CUDA here would poison forked workers.
    code = ("import sys\nfrom portkern.backends.cuda.runner import CudaDriverApi\n"
            "a = CudaDriverApi(); a.call('cuInit', 0); n = a.call('cuDeviceGetCount')\n"
            "names = []\nfor i in range(n):\n    a._device = a.call('cuDeviceGet', i); names.append(a.device_name())\n"
            "print('\\n'.join(names))")
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False, "the CUDA driver did not answer within 60 s", []
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return False, f"the CUDA driver reported no usable GPU: {tail[0]}", []
    names = [n for n in proc.stdout.splitlines() if n.strip()]
    return (bool(names), "" if names else "the CUDA driver sees no GPU", names)


class CudaRunner(DeviceRunner):
    name = "cuda"
    driver_class = CudaDriverApi
    visible_devices_variable = "CUDA_VISIBLE_DEVICES"

    def available(self) -> Availability:
        ok, reason, names = _probe()
        return Availability(backend="cuda-device", ok=ok, reason=reason, devices=names)

    def baseline(self, family: str, sizes: dict[str, int], dtype: str, *, trials: int, warmup: int,
                 flush_bytes: int) -> BaselineTiming | None:
        return time_cublas(family, sizes, dtype, trials=trials, warmup=warmup, flush_bytes=flush_bytes)

    def compile_options(self, target: Target, entries: list[str], extra: CompileOptions | None) -> CompileOptions:
        opts = super().compile_options(target, entries, extra)
        opts.code_type = opts.code_type or "cubin"
        return opts
