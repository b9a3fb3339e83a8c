"""Sandboxed worker processes for running untrusted device code.

``run_in_worker(fn, *args, timeout_s=..., label=..., env=None)`` runs a top-level function in a
fresh sandboxed process (see ``portkern.sandbox``) and returns its result. The parent always survives:

- the function runs past ``timeout_s``: the worker is killed and KernelTimeoutError names ``label``;
- the worker dies (signal, sanitizer abort, exit) or breaks the protocol: WorkerCrashError carries
  the tail of its output;
- the function raises: a portkern error is rebuilt by name as the same type (message and hint);
  any other exception becomes WorkerCrashError with the worker-side traceback.

The protocol. Requests (parent to child) are pickled: the child trusts its parent. Replies (child to
parent) are never unpickled: a frame is an 8-byte length, then a 4-byte header length, a JSON header
and raw blobs. Values are JSON numbers, strings, lists and tagged maps; numpy arrays travel as raw
bytes of a plain numeric dtype; records of ``portkern.model`` travel as their dicts. Whatever the
child sends, the parent only parses data.

A ``Worker`` serves one candidate: ``run_in_worker`` starts one per call and stops it after. A
caller that keeps a worker for several calls of the same candidate (validation, then timing) uses
``Worker`` directly; after any failure the worker is discarded, never reused.

A worker that stays (``WorkerPool``, ``pooled_call``) serves many candidates, one at a time, under one
key (a GPU: backend and device index); it is for code that cannot run on the host (device binaries
loaded with cuModuleLoad/hipModuleLoad), so one candidate cannot leave host state for the next. Each
call is followed by a probe (a top-level function returning '' when the worker's device still works,
else why not). A timeout, a crash, a broken reply or a failed probe (a sticky device error such as an
illegal address) kills that worker only; the call fails with the reason and the next call on that key
starts a fresh one. Verdicts never depend on the worker: it returns raw outputs, as above.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import importlib
import json
import os
import pickle
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from portkern import errors, sandbox
from portkern.errors import KernelTimeoutError, PortkernError, WorkerCrashError

STDERR_TAIL_CHARS = 4000
_FRAME = struct.Struct("<Q")
_HEADER = struct.Struct("<I")
MAX_HEADER_BYTES = 64 << 20
MAX_REPLY_BYTES = int(os.environ.get("PORTKERN_WORKER_MAX_REPLY_BYTES", str(16 << 30)))
_PLAIN_KINDS = "biufc"          # numpy dtype kinds a reply may carry (no objects, no structs)


class ProtocolError(Exception):
    """A reply that does not follow the protocol (the candidate may have written to the pipe)."""


# ---------------------------------------------------------------------------- framing


def _widen_pipe(fd: int) -> None:
    """Give a pipe the largest buffer an unprivileged process may (Linux's pipe-max-size, 1 MiB by
    default, instead of 64 KiB): a large reply then crosses in 16x fewer writes, reads and wake-ups."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setsize is None:
        return
    try:
        with open("/proc/sys/fs/pipe-max-size") as f:
            size = int(f.read().strip())
    except (OSError, ValueError):
        size = 1 << 20
    for want in (size, 1 << 20):
        try:
            fcntl.fcntl(fd, setsize, want)
            return
        except OSError:
            continue


def _write_frame(fd: int, payload: bytes | list[bytes | memoryview]) -> None:
    parts = payload if isinstance(payload, list) else [payload]
    total = sum(len(p) for p in parts)
    for part in [_FRAME.pack(total), *parts]:
        view = memoryview(part).cast("B")
        while view:
            written = os.write(fd, view)
            view = view[written:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytearray | None:
    """Read n bytes (into a buffer the caller then owns: no copy); None on end of file. Raises
    TimeoutError past the deadline."""
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise TimeoutError
        chunk = os.readv(fd, [view[got: got + (1 << 24)]])
        if not chunk:
            return None
        got += chunk
    return buf


def _read_frame(fd: int, deadline: float | None, limit: int | None = None) -> bytearray | None:
    header = _read_exact(fd, _FRAME.size, deadline)
    if header is None:
        return None
    (length,) = _FRAME.unpack(header)
    if limit is not None and length > limit:
        raise ProtocolError(f"reply of {length} bytes exceeds the limit of {limit}")
    return _read_exact(fd, length, deadline)


# ---------------------------------------------------------------------------- reply encoding (child side)


def encode_reply(status: str, value: Any) -> list[bytes | memoryview]:
    """Frame parts of a reply: header length, JSON header, blobs."""
    blobs: list[bytes | memoryview] = []
    header = json.dumps({"status": status, "value": _encode(value, blobs), "blobs": [len(b) for b in blobs]},
                        allow_nan=True).encode()
    # trailing spaces (valid JSON) put the first blob at a multiple of 64 bytes: the parent's arrays are
    # views of the reply, aligned for their dtype
    header += b" " * (-(_HEADER.size + len(header)) % 64)
    return [_HEADER.pack(len(header)), header, *blobs]


def _encode(value: Any, blobs: list) -> Any:
    from portkern.model import Record

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _PLAIN_KINDS:
            raise TypeError(f"cannot send an array of dtype {value.dtype}")
        arr = np.ascontiguousarray(value)
        blobs.append(memoryview(arr).cast("B") if arr.size else b"")
        return {"__array__": len(blobs) - 1, "dtype": arr.dtype.str, "shape": list(arr.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (bytes, bytearray)):
        blobs.append(bytes(value))
        return {"__bytes__": len(blobs) - 1}
    if isinstance(value, Record):
        return {"__record__": type(value).__name__, "data": value.to_dict()}
    if isinstance(value, (list, tuple)):
        return [_encode(v, blobs) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[str(k), _encode(v, blobs)] for k, v in value.items()]}
    raise TypeError(f"a worker cannot send a {type(value).__name__}")


def encode_error(exc: BaseException) -> list[bytes | memoryview]:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    info = {"type": type(exc).__name__, "portkern": isinstance(exc, PortkernError), "traceback": tb[-20000:],
            "message": getattr(exc, "message", None) if isinstance(exc, PortkernError) else str(exc),
            "hint": getattr(exc, "hint", None) if isinstance(exc, PortkernError) else None}
    return encode_reply("error", info)


# ---------------------------------------------------------------------------- reply decoding (parent side)


def decode_reply(payload: bytes | bytearray) -> tuple[str, Any]:
    """(status, value) of a reply payload; ProtocolError for anything malformed. Arrays are views of a
    bytearray payload (writable, no copy); of a bytes payload, copies."""
    if len(payload) < _HEADER.size:
        raise ProtocolError("reply shorter than its header")
    (hlen,) = _HEADER.unpack_from(payload)
    if hlen > MAX_HEADER_BYTES or _HEADER.size + hlen > len(payload):
        raise ProtocolError("reply header length out of range")
    try:
        header = json.loads(payload[_HEADER.size: _HEADER.size + hlen].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"reply header is not JSON: {type(exc).__name__}") from None
    if not isinstance(header, dict) or header.get("status") not in ("ok", "error"):
        raise ProtocolError("reply header lacks a status")
    lengths = header.get("blobs")
    if not isinstance(lengths, list) or not all(isinstance(n, int) and n >= 0 for n in lengths):
        raise ProtocolError("reply blob table malformed")
    blobs, pos = [], _HEADER.size + hlen
    for n in lengths:
        blobs.append(memoryview(payload)[pos: pos + n])
        pos += n
    if pos != len(payload):
        raise ProtocolError("reply blob lengths do not add up")
    try:
        return header["status"], _decode(header.get("value"), blobs, 0)
    except RecursionError:
        raise ProtocolError("reply nested too deeply") from None


def _decode(value: Any, blobs: list[memoryview], depth: int) -> Any:
    if depth > 64:
        raise ProtocolError("reply nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_decode(v, blobs, depth + 1) for v in value]
    if not isinstance(value, dict):
        raise ProtocolError("unexpected value in reply")
    if "__array__" in value:
        try:
            dtype = np.dtype(str(value["dtype"]))
            shape = tuple(int(s) for s in value["shape"])
            blob = blobs[int(value["__array__"])]
        except (TypeError, ValueError, KeyError, IndexError):
            raise ProtocolError("malformed array in reply") from None
        if dtype.kind not in _PLAIN_KINDS or dtype.hasobject or any(s < 0 for s in shape):
            raise ProtocolError(f"array of dtype {dtype} not allowed in a reply")
        if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != len(blob):
            raise ProtocolError("array shape does not match its bytes")
        array = np.frombuffer(blob, dtype=dtype).reshape(shape)
        return array if array.flags.writeable and array.flags.aligned else array.copy()
    if "__bytes__" in value:
        try:
            return bytes(blobs[int(value["__bytes__"])])
        except (TypeError, ValueError, IndexError):
            raise ProtocolError("malformed bytes in reply") from None
    if "__dict__" in value:
        items = value["__dict__"]
        if not isinstance(items, list) or not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], str)
                                                  for p in items):
            raise ProtocolError("malformed mapping in reply")
        return {k: _decode(v, blobs, depth + 1) for k, v in items}
    if "__record__" in value:
        from portkern import model

        cls = getattr(model, str(value["__record__"]), None)
        if not (isinstance(cls, type) and issubclass(cls, model.Record) and isinstance(value.get("data"), dict)):
            raise ProtocolError(f"unknown record {value['__record__']!r} in reply")
        try:
            return cls.from_dict(value["data"])
        except (TypeError, ValueError, KeyError) as exc:
            raise ProtocolError(f"malformed record in reply: {exc}") from None
    raise ProtocolError("untagged mapping in reply")


def _rebuild_error(info: Any, label: str) -> BaseException:
    if not isinstance(info, dict):
        return WorkerCrashError(f"{label}: the worker sent a malformed error")
    name, tb = str(info.get("type", "")), str(info.get("traceback", ""))
    cls = getattr(errors, name, None)
    message = str(info.get("message") or "")
    if info.get("portkern") and isinstance(cls, type) and issubclass(cls, PortkernError):
        exc = cls.__new__(cls)
        hint = info.get("hint")
        PortkernError.__init__(exc, message, hint=str(hint) if hint else None)
        exc.worker_traceback = tb
        return exc
    return WorkerCrashError(f"{label}: the worker raised {name}: {message}\n{_tail(tb)}")


def _tail(text: str) -> str:
    return text[-STDERR_TAIL_CHARS:]


# ---------------------------------------------------------------------------- parent side


class Worker:
    """One sandboxed worker process for one candidate, talking over a pair of pipes."""

    def __init__(self, env: dict[str, str] | None = None, *, timeout_s: float = 600.0, limit_memory: bool = False,
                 preload: tuple[str, ...] = (), limit_cpu: bool = True):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        _widen_pipe(from_child_w)      # replies carry whole output buffers (hundreds of MB at bench sizes)
        self._log = tempfile.TemporaryFile()
        self._private = tempfile.mkdtemp(prefix="portkern-sandbox-")
        extra = dict(env or {})
        if "asan" in extra.get("LD_PRELOAD", ""):
            limit_memory = False           # AddressSanitizer reserves terabytes of shadow address space
        limits = sandbox.worker_limits(timeout_s, limit_memory=limit_memory, limit_cpu=limit_cpu)
        command, preexec = limits.wrap([*sandbox.network_namespace_prefix(), sys.executable, "-m",
                                        "portkern.worker", str(to_child_r), str(from_child_w), *preload])
        self.broken = False
        try:
            self.proc = subprocess.Popen(
                command, pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=subprocess.STDOUT, env=sandbox.scrubbed_env(self._private, extra), cwd=self._private,
                preexec_fn=preexec, start_new_session=True, close_fds=True)
        except OSError:
            self._cleanup_dir()
            raise
        finally:
            os.close(to_child_r)
            os.close(from_child_w)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def output_since(self, offset: int) -> str:
        self._log.flush()
        self._log.seek(offset)
        text = self._log.read().decode(errors="replace")
        self._log.seek(0, os.SEEK_END)
        return text

    def log_offset(self) -> int:
        self._log.seek(0, os.SEEK_END)
        return self._log.tell()

    def call(self, fn: Callable[..., Any], args: tuple, timeout_s: float, label: str, *,
             keep_on_error: bool = False) -> Any:
        """``fn(*args)`` in the worker. An error reply marks the worker broken unless ``keep_on_error``
        (a worker that stays: its caller probes it and decides)."""
        if self.broken:
            raise WorkerCrashError(f"{label}: this worker failed before and is not reused")
        payload = pickle.dumps({"sys_path": list(sys.path), "call": pickle.dumps((fn, args))})
        offset = self.log_offset()
        deadline = time.monotonic() + timeout_s
        try:
            _write_frame(self._to_child, payload)
            reply = _read_frame(self._from_child, deadline, MAX_REPLY_BYTES)
        except TimeoutError:
            self.kill()
            raise KernelTimeoutError(
                f"{label} ran past its time limit of {timeout_s:g} s; its worker process was killed",
                hint="a kernel that never finishes (infinite loop, a spin-wait no other thread releases) "
                     "or a limit too small for this size (validate.timeout_s, PORTKERN_VALIDATE_TIMEOUT_S)") from None
        except ProtocolError as exc:
            self.kill()
            raise WorkerCrashError(f"{label}: the worker broke the reply protocol ({exc})") from None
        except (BrokenPipeError, OSError):
            reply = None
        if reply is None:
            code = self.wait_dead()
            raise WorkerCrashError(f"{label}: the worker process died ({_describe_exit(code)})\n"
                                   f"{_tail(self.output_since(offset))}")
        try:
            status, value = decode_reply(reply)
        except ProtocolError as exc:
            self.kill()
            raise WorkerCrashError(f"{label}: the worker broke the reply protocol ({exc})") from None
        if status == "ok":
            return value
        self.broken = self.broken or not keep_on_error
        raise _rebuild_error(value, label)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_dead(self) -> int | None:
        self.broken = True
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def kill(self) -> None:
        self.broken = True
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            self.proc.wait()
        self.close()

    def close(self) -> None:
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self._to_child = self._from_child = -1
        self._log.close()
        self._cleanup_dir()

    def _cleanup_dir(self) -> None:
        shutil.rmtree(self._private, ignore_errors=True)

    def stop(self) -> None:
        if self.proc.poll() is None and self._to_child != -1:
            try:
                os.close(self._to_child)  # end of input: the child leaves its loop
                self._to_child = -1
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.kill()


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


_live_lock = threading.Lock()
_live: set[Worker] = set()


def run_in_worker(fn: Callable[..., Any], *args: Any, timeout_s: float, label: str,
                  env: dict[str, str] | None = None, limit_memory: bool = False) -> Any:
    """Run ``fn(*args)`` in a fresh sandboxed worker (see the module docstring for the error contract).

    ``fn`` must be a top-level function importable by the worker; ``env`` entries are added to the
    worker's scrubbed environment (e.g. LD_PRELOAD of a sanitizer runtime); ``limit_memory`` True
    adds an address-space limit (the emulator; GPU runtimes reserve large address ranges, so off by default).
    """
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    # The module of a portkern job is imported before the syscall filter goes on (its imports may need
    # what the filter denies); anything else is imported when its call is unpickled.
    preload = (fn.__module__,) if fn.__module__.startswith("portkern.") else ()
    worker = Worker(env, timeout_s=timeout_s, limit_memory=limit_memory, preload=preload)
    with _live_lock:
        _live.add(worker)
    try:
        return worker.call(fn, args, timeout_s, label)
    finally:
        worker.stop()
        with _live_lock:
            _live.discard(worker)


def _preload_of(*fns: Callable[..., Any] | None) -> tuple[str, ...]:
    names = [fn.__module__ for fn in fns if fn is not None and fn.__module__.startswith("portkern.")]
    return tuple(dict.fromkeys(names))


@dataclass
class PoolStats:
    """What a pool did under one key: calls served and workers started (restarts = starts - 1)."""

    calls: int = 0
    starts: int = 0
    busy_s: float = 0.0                                    # time the key was held (its device in use)
    discarded: list[str] = field(default_factory=list)     # why each stopped worker was stopped


class WorkerPool:
    """Sandboxed workers that stay, one per key; a key serves one call at a time.

    ``call(keys, fn, *args, ...)`` runs on whichever of ``keys`` is idle (several GPUs: one key each),
    waiting for one when all are busy. See the module docstring for what kills a worker.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._busy: set[Hashable] = set()
        self._workers: dict[Hashable, tuple[Worker, tuple]] = {}
        self.stats: dict[Hashable, PoolStats] = {}

    def _acquire(self, keys: list[Hashable]) -> Hashable:
        with self._cond:
            while True:
                idle = [k for k in keys if k not in self._busy]
                if idle:
                    # A key whose worker is already running first: it costs no start.
                    key = next((k for k in idle if k in self._workers), idle[0])
                    self._busy.add(key)
                    return key
                self._cond.wait()

    def _release(self, key: Hashable) -> None:
        with self._cond:
            self._busy.discard(key)
            self._cond.notify_all()

    @contextlib.contextmanager
    def lease(self, keys: Hashable | list[Hashable]) -> Iterator[Hashable]:
        """Hold an idle key among ``keys`` (a device) for the block, without a worker that stays: a
        caller starting fresh workers on a GPU still runs one candidate at a time on it."""
        key = self._acquire(list(keys) if isinstance(keys, list) else [keys])
        started = time.monotonic()
        try:
            yield key
        finally:
            stats = self.stats.setdefault(key, PoolStats())
            stats.busy_s += time.monotonic() - started
            self._release(key)

    def _discard(self, key: Hashable, why: str) -> None:
        entry = self._workers.pop(key, None)
        if entry is None:
            return
        worker = entry[0]
        self.stats.setdefault(key, PoolStats()).discarded.append(why[:300])
        with _live_lock:
            _live.discard(worker)
        worker.kill()

    def _worker(self, key: Hashable, env: dict[str, str], preload: tuple[str, ...], timeout_s: float,
                limit_memory: bool) -> Worker:
        entry = self._workers.get(key)
        # What a worker preloads is not part of its setup: a job module it lacks is imported when
        # the job arrives, so validation and timing jobs share one worker.
        setup = (tuple(sorted(env.items())), limit_memory)
        if entry is not None:
            worker, had = entry
            if had == setup and not worker.broken and worker.alive():
                return worker
            self._discard(key, "its setup changed" if had != setup else "it was no longer usable")
        worker = Worker(env or None, timeout_s=timeout_s, limit_memory=limit_memory, preload=preload, limit_cpu=False)
        with _live_lock:
            _live.add(worker)
        self._workers[key] = (worker, setup)
        self.stats.setdefault(key, PoolStats()).starts += 1
        return worker

    def call(self, keys: Hashable | list[Hashable], fn: Callable[..., Any], *args: Any, timeout_s: float, label: str,
             env: dict[str, str] | Callable[[Hashable], dict[str, str]] | None = None,
             probe: Callable[[], str] | None = None, probe_timeout_s: float = 60.0,
             limit_memory: bool = False, preload: tuple[str, ...] = ()) -> Any:
        """``fn(*args)`` in the worker of an idle key among ``keys``; ``probe()`` runs after it in the
        same worker. ``env`` may depend on the key (a GPU's visibility variable); ``preload`` names
        modules a new worker imports before its syscall filter, besides those of ``fn`` and ``probe``."""
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        with self.lease(keys) as key:
            worker_env = dict((env(key) if callable(env) else env) or {})
            modules = tuple(dict.fromkeys([*preload, *_preload_of(fn, probe)]))
            worker = self._worker(key, worker_env, modules, timeout_s, limit_memory)
            self.stats[key].calls += 1
            try:
                result = worker.call(fn, args, timeout_s, label, keep_on_error=True)
            except (KernelTimeoutError, WorkerCrashError) as exc:
                self._discard(key, f"{type(exc).__name__}: {exc}")
                raise
            except PortkernError as exc:      # raised by the job: the worker may still be sound
                failed: PortkernError | None = exc
            else:
                failed = None
            reason = self._probe(worker, probe, probe_timeout_s, label)
            if reason:
                self._discard(key, reason)
                raise WorkerCrashError(f"{label}: the device was left unusable ({reason}); its worker was "
                                       "stopped and the next call starts a fresh one") from failed
            if failed is not None:
                raise failed
            return result

    @staticmethod
    def _probe(worker: Worker, probe: Callable[[], str] | None, timeout_s: float, label: str) -> str:
        if probe is None:
            return ""
        try:
            answer = worker.call(probe, (), timeout_s, f"{label} (device check)")
        except PortkernError as exc:
            return str(exc).splitlines()[0][:500] or type(exc).__name__
        if not isinstance(answer, str):
            return "the device check returned no verdict"
        return answer[:500]

    def worker_pids(self) -> dict[Hashable, int]:
        """Process id of each running worker (for tests and reports)."""
        return {k: w.proc.pid for k, (w, _) in self._workers.items() if w.alive()}

    def stop_all(self) -> None:
        with self._cond:
            entries = list(self._workers.items())
            self._workers.clear()
        for _key, (worker, _) in entries:
            with _live_lock:
                _live.discard(worker)
            worker.stop()


_pool = WorkerPool()


def worker_pool() -> WorkerPool:
    """The process's pool of workers that stay (one per GPU)."""
    return _pool


def pooled_call(keys: Hashable | list[Hashable], fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``worker_pool().call(...)``."""
    return _pool.call(keys, fn, *args, **kwargs)


def shutdown_workers() -> None:
    """Stop every worker still running, pooled ones included (also done at interpreter exit)."""
    _pool.stop_all()
    with _live_lock:
        workers = list(_live)
        _live.clear()
    for w in workers:
        w.kill()


atexit.register(shutdown_workers)


# ---------------------------------------------------------------------------- child side


def _prepare_child(preload: list[str]) -> str:
    """Import the modules the calls will run (named by the parent, e.g. the harness's launch job), then
    lock the process down. Returns a note ('' = filter on)."""
    import ctypes.util  # noqa: F401  (find_library may spawn ldconfig: do it before exec is denied)

    for name in preload:
        importlib.import_module(name)
    # A runner may name a function to run before the lockdown (a GPU driver's initialisation).
    init = os.environ.get("PORTKERN_WORKER_INIT", "")
    if init:
        module, _, function = init.partition(":")
        getattr(importlib.import_module(module), function)()
    return sandbox.install_syscall_filter()


def _serve(read_fd: int, write_fd: int, preload: list[str]) -> None:
    note = _prepare_child(preload)
    if note:
        print(f"portkern worker: {note}", file=sys.stderr, flush=True)
    while True:
        message = _read_frame(read_fd, None)
        if message is None:
            return
        try:
            request = pickle.loads(message)
            for entry in request["sys_path"]:
                if entry not in sys.path:
                    sys.path.append(entry)
            fn, args = pickle.loads(request["call"])
            reply = encode_reply("ok", fn(*args))
        except BaseException as exc:  # report everything; the parent decides
            try:
                reply = encode_error(exc)
            except Exception as inner:  # an exception whose text cannot be encoded
                reply = encode_reply("error", {"type": "WorkerCrashError", "portkern": False,
                                               "message": f"unencodable {type(exc).__name__}: {inner}",
                                               "traceback": ""})
        sys.stdout.flush()
        sys.stderr.flush()
        _write_frame(write_fd, reply)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
