"""The part of the CUDA and HIP runners that does not depend on the vendor.

Both vendors' Python bindings (cuda-python's driver API, hip-python) return ``(error, value...)``
tuples from functions with parallel names, so a vendor is a table of names plus the few calls whose
signatures differ. Everything else — buffers with guards, launches on the harness's own stream,
event timing with an L2 flush between trials, the worker that stays per GPU — lives here once.

A device worker initialises its driver once (``prepare_worker``, before the syscall filter goes on)
and keeps it for every candidate it serves: a session loads the candidate's module and unloads it
on close. After each call ``device_health`` synchronises the context: a sticky error (an illegal
address, a launch failure) leaves every later call failing, so the worker is stopped and restarted.
"""

from __future__ import annotations

import abc
import ctypes
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from portkern.backends.base import Program

from portkern.errors import LaunchError, LoadError
from portkern.harness.inputs import Case
from portkern.harness.runners.base import Runner, Session, kernel_args
from portkern.harness.timing import TrialPlan, adaptive_trials
from portkern.model import CompileResult, Target

# Blocks of 256 threads of the cache sweep: enough loads in flight to read twice the cache at full rate.
_SWEEP_BLOCKS = 1024

_CTYPES = {np.dtype(np.float32): ctypes.c_float, np.dtype(np.float64): ctypes.c_double,
           np.dtype(np.float16): ctypes.c_uint16, np.dtype(np.int8): ctypes.c_int8, np.dtype(np.uint8): ctypes.c_uint8,
           np.dtype(np.int32): ctypes.c_int32, np.dtype(np.uint32): ctypes.c_uint32,
           np.dtype(np.int64): ctypes.c_int64, np.dtype(np.uint64): ctypes.c_uint64,
           np.dtype(np.uint16): ctypes.c_uint16, np.dtype(np.int16): ctypes.c_int16}


def _as_ctype(value: Any) -> ctypes._SimpleCData:
    """A kernel parameter with the exact width of its C type (half travels as its 16 bits)."""
    if isinstance(value, DevicePointer):
        return ctypes.c_uint64(value.address)
    v = np.asarray(value)
    if v.dtype == np.float16:
        return ctypes.c_uint16(int(v.view(np.uint16)))
    return _CTYPES[v.dtype](v.item())


@dataclass(frozen=True)
class DevicePointer:
    address: int


class DriverApi(abc.ABC):
    """Driver calls the harness needs. Subclasses bind a vendor module and fill ``NAMES``."""

    vendor = ""
    NAMES: dict[str, str] = {}
    # A module (text or binary the driver loads) with the kernel ``portkern_l2_sweep(buf, words, sink)``
    # that reads ``words`` 16-byte words of ``buf``: the flush before a trial. Without one, the flush
    # is a write (memset), which leaves the cache full of dirty lines the timed kernel then writes back.
    L2_SWEEP: bytes = b""

    def __init__(self, module: Any):
        self.mod = module
        self._sweep: Any = None
        self._sweep_tried = False

    def call(self, op: str, *args: Any) -> Any:
        fname = self.NAMES.get(op, op)
        ret = getattr(self.mod, fname)(*args)
        if not isinstance(ret, tuple):
            ret = (ret,)
        err, rest = ret[0], ret[1:]
        code = int(getattr(err, "value", err))
        if code != 0:
            raise LaunchError(f"{fname} failed with {getattr(err, 'name', code)} ({code})",
                              hint="the kernel may have faulted earlier; rerun it alone under the sanitizer")
        if not rest:
            return None
        return rest[0] if len(rest) == 1 else rest

    # Calls whose signatures differ between vendors.
    @abc.abstractmethod
    def init(self, device_index: int) -> None: ...

    @abc.abstractmethod
    def device_name(self) -> str: ...

    @abc.abstractmethod
    def alloc(self, nbytes: int) -> int: ...

    @abc.abstractmethod
    def stream_create(self) -> Any: ...

    @abc.abstractmethod
    def event_create(self) -> Any: ...

    @abc.abstractmethod
    def launch(self, fn: Any, grid: tuple[int, int, int], block: tuple[int, int, int], shared_bytes: int,
               stream: Any, params_address: int) -> None: ...

    @abc.abstractmethod
    def allow_dynamic_shared(self, fn: Any, nbytes: int) -> None: ...

    # Calls with the same shape for both vendors.
    def synchronize(self) -> None:
        """Wait for all work on the device; raises LaunchError with a sticky error's name."""
        self.call("ctx_sync")

    def free(self, ptr: int) -> None:
        self.call("free", self.dptr(ptr))

    def dptr(self, address: int) -> Any:
        return address

    # Copies between the host and the device go on the harness's stream and are waited for there. The
    # plain calls run on the legacy default stream, which a non-blocking stream is not ordered with, and
    # a copy from pageable memory returns before its DMA has landed: a kernel launched right after on
    # the harness's stream could read what the memory held before (seen on an H100 under load as
    # thousands of wrong cases of correct kernels).
    def h2d(self, ptr: int, host: np.ndarray, stream: Any) -> None:
        host = np.ascontiguousarray(host)
        if host.nbytes:
            self.call("h2d_async", self.dptr(ptr), host.ctypes.data, host.nbytes, stream)
            self.stream_sync(stream)

    def d2h(self, host: np.ndarray, ptr: int, stream: Any) -> None:
        if host.nbytes:
            self.call("d2h_async", host.ctypes.data, self.dptr(ptr), host.nbytes, stream)
            self.stream_sync(stream)

    def memset_async(self, ptr: int, byte: int, nbytes: int, stream: Any) -> None:
        self.call("memset_d8_async", self.dptr(ptr), byte, nbytes, stream)

    def copy_async(self, dst: int, src: int, nbytes: int, stream: Any) -> None:
        self.call("d2d_async", self.dptr(dst), self.dptr(src), nbytes, stream)

    def module_load(self, binary: bytes) -> Any:
        try:
            return self.call("module_load_data", binary)
        except LaunchError as exc:
            raise LoadError(f"the device rejected the binary: {exc.message}",
                            hint="check that it was compiled for this GPU's architecture") from exc

    def get_function(self, module: Any, symbol: str) -> Any:
        try:
            return self.call("module_get_function", module, symbol.encode())
        except LaunchError as exc:
            raise LoadError(f"kernel symbol '{symbol}' not found in the binary: {exc.message}",
                            hint="the entry must be listed in CompileOptions.entries so it is instantiated") from exc

    def l2_sweep(self) -> Any:
        """The loaded sweep kernel (once per process: it lives as long as the context), or None where
        this vendor has none or the driver refused it (the flush is then a write)."""
        if not self._sweep_tried:
            self._sweep_tried = True
            if self.L2_SWEEP:
                try:
                    self._sweep = self.get_function(self.module_load(self.L2_SWEEP), "portkern_l2_sweep")
                except LoadError:
                    self._sweep = None
        return self._sweep

    def stream_sync(self, stream: Any) -> None:
        self.call("stream_sync", stream)

    def event_record(self, event: Any, stream: Any) -> None:
        self.call("event_record", event, stream)

    def elapsed_ms(self, start: Any, end: Any) -> float:
        return float(self.call("event_elapsed", start, end))


@dataclass
class DeviceBuffers:
    """Device copies of a case's buffers (same layout as the host ones) plus address tables."""

    pointers: dict[str, list[int]] = field(default_factory=dict)
    address_tables: dict[str, int] = field(default_factory=dict)


class DeviceSession(Session):
    timing_method = "device-events"

    def __init__(self, api: DriverApi, compiled: CompileResult, target: Target, device_index: int = 0):
        self.api = api
        api.init(device_index)
        self.device = api.device_name()
        self.target = target
        self.module = api.module_load(compiled.binary)
        self.entry_map = dict(compiled.entry_map)
        self.functions: dict[str, Any] = {}
        self.stream = api.stream_create()
        self._flush: tuple[int, int] | None = None
        self.flushed = ""

    def function(self, entry: str) -> Any:
        if entry not in self.functions:
            self.functions[entry] = self.api.get_function(self.module, self.entry_map.get(entry, entry))
        return self.functions[entry]

    # ------------------------------------------------------------------ buffers

    def put(self, ptr: int, buffer: Any) -> None:
        """Copy a host array, or a device array of this context (CuPy, ``__cuda_array_interface__``),
        into device memory at ``ptr``; returns when the copy is done."""
        interface = getattr(buffer, "__cuda_array_interface__", None)
        if interface is None:
            self.api.h2d(ptr, buffer, self.stream)
            return
        if buffer.nbytes:
            # Work another library queued to fill the array ends first; the copy is on this stream.
            self.api.synchronize()
            self.api.copy_async(ptr, int(interface["data"][0]), int(buffer.nbytes), self.stream)
            self.sync()

    def upload(self, case: Case, buffers: dict[str, list[Any]]) -> DeviceBuffers:
        dev = DeviceBuffers()
        try:
            for name, host_list in buffers.items():
                ptrs = []
                for host in host_list:
                    ptr = self.api.alloc(max(host.nbytes, 1))
                    ptrs.append(ptr)
                    self.put(ptr, host)
                dev.pointers[name] = ptrs
                if case.arrays[name].batched == "pointers":
                    table = np.array(ptrs, dtype=np.uint64)
                    tptr = self.api.alloc(max(table.nbytes, 8))
                    self.api.h2d(tptr, table, self.stream)
                    dev.address_tables[name] = tptr
        except Exception:
            self.free(dev)
            raise
        return dev

    def download(self, case: Case, dev: DeviceBuffers, skip: Any = ()) -> dict[str, list[np.ndarray]]:
        """Host copies of every buffer of the case but those of the arguments named in ``skip``."""
        out: dict[str, list[np.ndarray]] = {}
        for name, arg in case.arrays.items():
            if name in skip:
                continue
            out[name] = []
            for host, ptr in zip(arg.buffers, dev.pointers[name]):
                got = np.empty(host.shape, dtype=host.dtype)
                self.api.d2h(got, ptr, self.stream)
                out[name].append(got)
        return out

    def free(self, dev: DeviceBuffers) -> None:
        for ptrs in dev.pointers.values():
            for p in ptrs:
                self.api.free(p)
        for p in dev.address_tables.values():
            self.api.free(p)
        dev.pointers.clear()
        dev.address_tables.clear()

    # ------------------------------------------------------------------ launches

    def launch_all(self, case: Case, dev: DeviceBuffers) -> None:
        """Every launch of the case, in order, on the harness's stream (no synchronisation)."""

        def pointer_of(name: str) -> DevicePointer:
            if name in dev.address_tables:
                return DevicePointer(dev.address_tables[name])
            return DevicePointer(dev.pointers[name][0])

        for plan in case.launches:
            if 0 in plan.grid or 0 in plan.block:
                continue
            fn = self.function(plan.entry)
            if plan.shared_bytes > 48 * 1024:
                self.api.allow_dynamic_shared(fn, plan.shared_bytes)
            values = [_as_ctype(v) for v in kernel_args(case, plan.args, pointer_of)]
            params = (ctypes.c_void_p * max(len(values), 1))(*[ctypes.addressof(v) for v in values])
            self.api.launch(fn, plan.grid, plan.block, plan.shared_bytes, self.stream, ctypes.addressof(params))

    def sync(self) -> None:
        # Only the harness's stream: work a kernel pushed elsewhere is not waited for, and shows as wrong output.
        self.api.stream_sync(self.stream)

    def run(self, case: Case, buffers: dict[str, list[np.ndarray]], repeats: int = 1) -> dict[str, list[np.ndarray]]:
        dev = self.upload(case, buffers)
        try:
            for r in range(repeats):
                if r:
                    for name, host_list in buffers.items():
                        for host, ptr in zip(host_list, dev.pointers[name]):
                            self.put(ptr, host)
                self.launch_all(case, dev)
                self.sync()
            return self.download(case, dev)
        finally:
            self.free(dev)

    # ------------------------------------------------------------------ timing

    def flush_buffer(self, nbytes: int) -> tuple[int, int]:
        if self._flush is None or self._flush[1] < nbytes:
            if self._flush is not None:
                self.api.free(self._flush[0])
            self._flush = (self.api.alloc(nbytes), nbytes)
        return self._flush

    def flush_l2(self, ptr: int, nbytes: int, trial: int, read: bool = True) -> str:
        """Evict the last-level cache before a trial (untimed), leaving it clean where this vendor has a
        sweep kernel: read ``nbytes`` (twice the cache) so the lines the copies and the previous trial
        left dirty are written back now, not during the timed call (``read`` False: always the write).
        Returns how ("read" or "write")."""
        sweep = self.api.l2_sweep() if read else None
        if sweep is None:
            self.api.memset_async(ptr, trial & 0xFF, nbytes, self.stream)
            return "write"
        values = [ctypes.c_uint64(ptr), ctypes.c_uint64(nbytes // 16), ctypes.c_uint64(ptr)]
        params = (ctypes.c_void_p * 3)(*[ctypes.addressof(v) for v in values])
        self.api.launch(sweep, (_SWEEP_BLOCKS, 1, 1), (256, 1, 1), 0, self.stream, ctypes.addressof(params))
        return "read"

    def copy_contents(self, case: Case, dst: DeviceBuffers, src: DeviceBuffers) -> None:
        """Copy every buffer of ``src`` into ``dst`` (same case layout) on the harness's stream."""
        for name, arg in case.arrays.items():
            for host, d, s in zip(arg.buffers, dst.pointers[name], src.pointers[name]):
                if host.nbytes:
                    self.api.copy_async(d, s, host.nbytes, self.stream)

    def time_trials(self, work: list[tuple[Case, DeviceBuffers]], pool: list[tuple[Case, DeviceBuffers]], *,
                    trials: int, warmup: int, flush_bytes: int,
                    plan: TrialPlan | None = None, flush: str = "auto") -> tuple[list[float], list[int]]:
        """Milliseconds of each trial and, per work slot, the pool index its last trial ran on.

        Trial t runs in work slot t % len(work) (rotating addresses) on the contents of pool entry
        t % len(pool), copied in before the trial with outputs poisoned: every timed call sees inputs it
        has not seen in that buffer, so skipping, caching or deferring work shows in the outputs.
        Untimed, before each trial: the copy, then a write larger than the last-level cache.
        Without ``plan``, exactly ``trials`` trials; with one, batches until its interval is narrow
        enough (``trials`` is then ignored for the plan's own cap).
        """
        flush_ptr, _ = self.flush_buffer(flush_bytes)
        for w in range(warmup):
            case, dev = work[w % len(work)]
            self.launch_all(case, dev)
        last_content = [-1] * len(work)
        done = 0

        def run_batch(count: int) -> list[float]:
            nonlocal done
            events = [(self.api.event_create(), self.api.event_create()) for _ in range(count)]
            try:
                for start, end in events:
                    t = done
                    done += 1
                    case, dev = work[t % len(work)]
                    p = t % len(pool)
                    self.copy_contents(case, dev, pool[p][1])
                    last_content[t % len(work)] = p
                    self.flushed = self.flush_l2(flush_ptr, flush_bytes, t, read=flush != "write")
                    self.api.event_record(start, self.stream)
                    # By-value arguments (alpha, beta, ...) belong to the pool entry, like the buffer contents.
                    self.launch_all(pool[p][0], dev)
                    self.api.event_record(end, self.stream)
                self.sync()
                return [self.api.elapsed_ms(s, e) for s, e in events]
            finally:
                self._destroy(events)

        times = adaptive_trials(run_batch, plan or TrialPlan(min_trials=trials, max_trials=trials, fraction=0.0))
        return times, last_content

    def _destroy(self, events: list[tuple[Any, Any]]) -> None:
        for pair in events:
            for ev in pair:
                self.api.call("event_destroy", ev)

    def copy_bandwidth_gbs(self, nbytes: int, trials: int = 10) -> float:
        """Device-to-device copy rate, counting bytes read and written, best of ``trials``."""
        src, dst = self.api.alloc(nbytes), self.api.alloc(nbytes)
        try:
            self.api.memset_async(src, 1, nbytes, self.stream)
            self.api.copy_async(dst, src, nbytes, self.stream)
            events = [(self.api.event_create(), self.api.event_create()) for _ in range(trials)]
            for start, end in events:
                self.api.event_record(start, self.stream)
                self.api.copy_async(dst, src, nbytes, self.stream)
                self.api.event_record(end, self.stream)
            self.sync()
            best_ms = min(self.api.elapsed_ms(s, e) for s, e in events)
            self._destroy(events)
        finally:
            self.api.free(src)
            self.api.free(dst)
        return 2.0 * nbytes / (best_ms * 1e-3) / 1e9

    def close(self) -> None:
        """Free the flush buffer, the stream and the module: the worker may serve another candidate.
        A failure here (a context already broken) is left to the worker's device check."""
        flush, self._flush = self._flush, None
        releases = [lambda: self.api.free(flush[0])] if flush is not None else []
        releases += [lambda: self.api.call("stream_destroy", self.stream),
                     lambda: self.api.call("module_unload", self.module)]
        for release in releases:
            try:
                release()
            except LaunchError:
                continue


class DeviceProgram(Program):
    """One entry of a compiled binary loaded on a GPU (``Backend.load`` of the GPU backends).

    Arguments: ``DevicePointer`` for buffers, numpy scalars for by-value arguments. With ``wait`` the
    launch is bracketed by events on the program's own stream and the elapsed seconds come back.
    Like a session, it belongs inside a worker process.
    """

    def __init__(self, api: DriverApi, compiled: CompileResult, entry: str, device_index: int = 0):
        self.api = api
        api.init(device_index)
        self.module = api.module_load(compiled.binary)
        self.symbol = compiled.entry_map.get(entry, entry)
        self.function = api.get_function(self.module, self.symbol)
        self.stream = api.stream_create()

    def __call__(self, *args: Any, grid: tuple[int, int, int], block: tuple[int, int, int],
                 shared_bytes: int = 0, wait: bool = False) -> float | None:
        if shared_bytes > 48 * 1024:
            self.api.allow_dynamic_shared(self.function, shared_bytes)
        values = [_as_ctype(v) for v in args]
        params = (ctypes.c_void_p * max(len(values), 1))(*[ctypes.addressof(v) for v in values])
        if not wait:
            self.api.launch(self.function, grid, block, shared_bytes, self.stream, ctypes.addressof(params))
            return None
        start, end = self.api.event_create(), self.api.event_create()
        try:
            self.api.event_record(start, self.stream)
            self.api.launch(self.function, grid, block, shared_bytes, self.stream, ctypes.addressof(params))
            self.api.event_record(end, self.stream)
            self.api.stream_sync(self.stream)
            return self.api.elapsed_ms(start, end) * 1e-3
        finally:
            self.api.call("event_destroy", start)
            self.api.call("event_destroy", end)


# --------------------------------------------------------------------------- the device worker

# This worker process's driver per vendor class, initialised once (a worker that stays keeps it).
_drivers: dict[type, DriverApi] = {}
DRIVER_VARIABLE = "PORTKERN_WORKER_DRIVER"


def driver(cls: type[DriverApi], device_index: int = 0) -> DriverApi:
    """The process's initialised driver of class ``cls``."""
    api = _drivers.get(cls)
    if api is None:
        api = cls()
        api.init(device_index)
        _drivers[cls] = api
    return api


def prepare_worker() -> None:
    """Run in a fresh worker before its syscall filter goes on (PORTKERN_WORKER_INIT): the driver's
    initialisation makes calls the filter denies (and fails with an operating-system error after it);
    later calls do not. The driver class is named by PORTKERN_WORKER_DRIVER ("module:Class")."""
    import importlib
    import os

    module, _, name = os.environ[DRIVER_VARIABLE].partition(":")
    driver(getattr(importlib.import_module(module), name))


def device_health() -> str:
    """'' while every driver of this worker still works, else the driver's error (run after each call)."""
    for api in _drivers.values():
        try:
            api.synchronize()
        except LaunchError as exc:
            return exc.message
    return ""


class DeviceRunner(Runner):
    """A GPU runner: sessions on ``driver_class``'s device, one worker that stays per device."""

    persistent_worker = True
    driver_class: type[DriverApi] = DriverApi
    visible_devices_variable = ""            # the vendor's device-visibility variable

    def driver(self) -> DriverApi:
        return driver(self.driver_class)

    def open_session(self, compiled: CompileResult, target: Target) -> Session:
        return DeviceSession(self.driver(), compiled, target)

    def device_count(self) -> int:
        avail = self.available()
        return max(len(avail.devices), 1) if avail.ok else 1

    def worker_probe(self) -> Callable[[], str] | None:
        return device_health

    def worker_env(self, compiled: CompileResult, device_index: int = 0) -> dict[str, str]:
        env = {**super().worker_env(compiled, device_index),
               "PORTKERN_WORKER_INIT": f"{__name__}:prepare_worker",
               DRIVER_VARIABLE: f"{self.driver_class.__module__}:{self.driver_class.__name__}"}
        if self.visible_devices_variable:
            # Each worker sees its own GPU only, as device 0.
            import os

            visible = [v for v in os.environ.get(self.visible_devices_variable, "").split(",") if v.strip()]
            env[self.visible_devices_variable] = visible[device_index] if device_index < len(visible) \
                else str(device_index)
        return env
