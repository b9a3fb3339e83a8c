"""Worker-process isolation for running device code.

``run_in_worker(fn, *args, timeout_s=..., label=..., env=None)`` runs a picklable top-level function
in a separate Python process and returns its result. The parent always survives:

- the function runs past ``timeout_s``: the worker is killed and KernelTimeoutError names ``label``;
- the worker dies (signal, sanitizer abort, exit): WorkerCrashError carries the tail of its output;
- the function raises: a portkern error is re-raised as the same type (the worker stays usable);
  any other exception becomes WorkerCrashError with the worker-side traceback.

Workers are kept and reused per environment, so a caller can afford one call per batch of launches
(for example, a whole list of validation cases in one call). Starting one costs an interpreter
start and the imports of the function's module.
"""

from __future__ import annotations

import atexit
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from portkern.errors import KernelTimeoutError, PortkernError, WorkerCrashError

STDERR_TAIL_CHARS = 4000
MAX_IDLE_PER_ENV = 2
_HEADER = struct.Struct("<Q")


# ---------------------------------------------------------------------------- framing


def _write_message(fd: int, payload: bytes) -> None:
    data = _HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes | None:
    """Read n bytes; None on end of file. Raises TimeoutError past the deadline."""
    chunks: list[bytes] = []
    remaining = n
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                raise TimeoutError
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _read_message(fd: int, deadline: float | None) -> bytes | None:
    header = _read_exact(fd, _HEADER.size, deadline)
    if header is None:
        return None
    (length,) = _HEADER.unpack(header)
    return _read_exact(fd, length, deadline)


# ---------------------------------------------------------------------------- errors across processes


def _pack_exception(exc: BaseException) -> bytes:
    """Pickle enough to rebuild a portkern error of the same type in the parent."""
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    state = {k: v for k, v in vars(exc).items() if _picklable(v)}
    try:
        return pickle.dumps(("error", type(exc), exc.args, state, tb))
    except Exception:  # the exception class itself cannot be pickled (e.g. defined in a closure)
        return pickle.dumps(("error", None, (repr(exc),), {}, tb))


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
        return True
    except Exception:
        return False


def _rebuild_exception(cls: type | None, args: tuple, state: dict, tb: str, label: str) -> BaseException:
    if cls is not None and isinstance(cls, type) and issubclass(cls, PortkernError):
        exc = cls.__new__(cls)
        Exception.__init__(exc, *args)
        exc.__dict__.update(state)
        exc.worker_traceback = tb
        return exc
    name = cls.__name__ if isinstance(cls, type) else "exception"
    text = args[0] if args else ""
    return WorkerCrashError(f"{label}: the worker raised {name}: {text}\n{_tail(tb)}")


def _tail(text: str) -> str:
    return text[-STDERR_TAIL_CHARS:]


# ---------------------------------------------------------------------------- parent side


class _Worker:
    """One worker process, talking over a pair of pipes; its stdout/stderr go to a temp file."""

    def __init__(self, env: dict[str, str] | None):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        self._log = tempfile.TemporaryFile()
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "portkern.worker", str(to_child_r), str(from_child_w)],
            pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, stdout=self._log,
            stderr=subprocess.STDOUT, env=full_env, start_new_session=True, close_fds=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self.calls = 0

    def output_since(self, offset: int) -> str:
        self._log.flush()
        self._log.seek(offset)
        text = self._log.read().decode(errors="replace")
        self._log.seek(0, os.SEEK_END)
        return text

    def log_offset(self) -> int:
        self._log.seek(0, os.SEEK_END)
        return self._log.tell()

    def call(self, fn: Callable[..., Any], args: tuple, timeout_s: float, label: str) -> Any:
        payload = pickle.dumps({"sys_path": list(sys.path), "call": pickle.dumps((fn, args))})
        offset = self.log_offset()
        deadline = time.monotonic() + timeout_s
        try:
            _write_message(self._to_child, payload)
            reply = _read_message(self._from_child, deadline)
        except TimeoutError:
            self.kill()
            raise KernelTimeoutError(
                f"{label} ran past its time limit of {timeout_s:g} s; its worker process was killed",
                hint="a kernel that never finishes (infinite loop, a spin-wait no other thread releases) "
                     "or a limit too small for this size") from None
        except (BrokenPipeError, OSError):
            reply = None
        if reply is None:
            code = self.wait_dead()
            raise WorkerCrashError(f"{label}: the worker process died ({_describe_exit(code)})\n"
                                   f"{_tail(self.output_since(offset))}")
        status, *rest = pickle.loads(reply)
        if status == "ok":
            return rest[0]
        cls, exc_args, state, tb = rest
        raise _rebuild_exception(cls, exc_args, state, tb, label)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_dead(self) -> int | None:
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def kill(self) -> None:
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

    def stop(self) -> None:
        if self.proc.poll() is None:
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


_lock = threading.Lock()
_idle: dict[tuple, list[_Worker]] = {}


MAX_CALLS_PER_WORKER = 24


def _env_key(env: dict[str, str] | None) -> tuple:
    return tuple(sorted((env or {}).items()))


def run_in_worker(fn: Callable[..., Any], *args: Any, timeout_s: float, label: str,
                  env: dict[str, str] | None = None) -> Any:
    """Run ``fn(*args)`` in a worker process (see the module docstring for the error contract).

    ``fn`` must be a top-level function importable by the worker; ``env`` entries are added to the
    worker's environment (e.g. LD_PRELOAD of a sanitizer runtime).
    """
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    key = _env_key(env)
    with _lock:
        pool = _idle.setdefault(key, [])
        worker = None
        while pool and worker is None:
            candidate = pool.pop()
            if candidate.alive():
                worker = candidate
            else:
                candidate.kill()
    if worker is None:
        worker = _Worker(env)
    try:
        worker.calls += 1
        return worker.call(fn, args, timeout_s, label)
    finally:
        # A worker that timed out or died is gone; one whose function raised is still good. Each call
        # may load a shared library (and its thread pool) that is never unloaded: retire old workers.
        if worker.calls >= MAX_CALLS_PER_WORKER:
            worker.stop()
        elif worker.alive() and worker._to_child != -1:
            _release(key, worker)
        else:
            worker.kill()


def _release(key: tuple, worker: _Worker) -> None:
    with _lock:
        pool = _idle.setdefault(key, [])
        if len(pool) < MAX_IDLE_PER_ENV:
            pool.append(worker)
            return
    worker.stop()


def shutdown_workers() -> None:
    """Stop every idle worker (also done at interpreter exit)."""
    with _lock:
        workers = [w for pool in _idle.values() for w in pool]
        _idle.clear()
    for w in workers:
        w.stop()


atexit.register(shutdown_workers)


# ---------------------------------------------------------------------------- child side


def _serve(read_fd: int, write_fd: int) -> None:
    while True:
        message = _read_message(read_fd, None)
        if message is None:
            return
        try:
            request = pickle.loads(message)
            for entry in request["sys_path"]:
                if entry not in sys.path:
                    sys.path.append(entry)
            fn, args = pickle.loads(request["call"])
            reply = pickle.dumps(("ok", fn(*args)))
        except BaseException as exc:  # report everything; the parent decides
            reply = _pack_exception(exc)
        sys.stdout.flush()
        sys.stderr.flush()
        _write_message(write_fd, reply)


if __name__ == "__main__":
    _serve(int(sys.argv[1]), int(sys.argv[2]))
