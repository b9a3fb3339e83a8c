"""run_in_worker: results come back; hangs, crashes and errors become typed errors; one worker per call."""

from __future__ import annotations

import os
import time

import pytest

from portkern.errors import KernelTimeoutError, LaunchError, WorkerCrashError
from portkern.worker import run_in_worker, shutdown_workers


def square(x: int) -> int:
    return x * x


def pid_of_worker() -> int:
    return os.getpid()


def sleep_for(seconds: float) -> None:
    time.sleep(seconds)


def die_by_signal() -> None:
    print("about to abort", flush=True)
    os.abort()


def raise_launch_error() -> None:
    raise LaunchError("kernel 'k' failed: barrier divergence")


def raise_value_error() -> None:
    raise ValueError("bad value 42")


def read_env(name: str) -> str:
    return os.environ.get(name, "")


def big_arrays(n: int) -> dict:
    import numpy as np

    # odd-length pieces first, so the arrays after them start at unaligned offsets unless padded
    return {"tag": "x" * 7, "bytes": np.arange(3, dtype=np.uint8), "f64": np.arange(n, dtype=np.float64),
            "f32": np.linspace(-1, 1, n, dtype=np.float32).reshape(2, -1), "i64": np.full(5, -3, dtype=np.int64)}


def test_large_replies_arrive_as_writable_aligned_arrays_without_copies():
    import numpy as np

    got = run_in_worker(big_arrays, 1 << 20, timeout_s=120, label="big")
    assert got["tag"] == "x" * 7 and got["bytes"].tolist() == [0, 1, 2]
    assert np.array_equal(got["f64"], np.arange(1 << 20, dtype=np.float64))
    assert np.array_equal(got["f32"], np.linspace(-1, 1, 1 << 20, dtype=np.float32).reshape(2, -1))
    assert got["i64"].tolist() == [-3] * 5
    for name in ("f64", "f32", "i64"):
        assert got[name].flags.writeable and got[name].flags.aligned, name
    got["f64"][0] = 42.0        # the caller may work on what it received


def test_reply_pipe_is_widened_where_linux_allows():
    import fcntl

    from portkern import worker

    if not hasattr(fcntl, "F_GETPIPE_SZ"):
        pytest.skip("no F_GETPIPE_SZ on this platform")
    r, w = os.pipe()
    try:
        worker._widen_pipe(w)
        assert fcntl.fcntl(w, fcntl.F_GETPIPE_SZ) >= 1 << 20
    finally:
        os.close(r)
        os.close(w)


def test_result_comes_back_from_another_process():
    assert run_in_worker(square, 12, timeout_s=60, label="square") == 144
    assert run_in_worker(pid_of_worker, timeout_s=60, label="pid") != os.getpid()


def test_each_call_gets_a_fresh_worker():
    first = run_in_worker(pid_of_worker, timeout_s=60, label="pid")
    second = run_in_worker(pid_of_worker, timeout_s=60, label="pid")
    assert first != second


def test_timeout_kills_the_worker_and_names_the_label():
    before = run_in_worker(pid_of_worker, timeout_s=60, label="pid")
    start = time.monotonic()
    with pytest.raises(KernelTimeoutError, match="my_kernel on emu"):
        run_in_worker(sleep_for, 60, timeout_s=1, label="my_kernel on emu")
    assert time.monotonic() - start < 30
    with pytest.raises(ProcessLookupError):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the killed worker disappears
            os.kill(before, 0)
            time.sleep(0.05)


def test_crash_reports_signal_and_output_tail():
    with pytest.raises(WorkerCrashError) as info:
        run_in_worker(die_by_signal, timeout_s=60, label="crashing kernel")
    text = str(info.value)
    assert "crashing kernel" in text and "SIGABRT" in text and "about to abort" in text
    assert run_in_worker(square, 3, timeout_s=60, label="after crash") == 9


def test_portkern_errors_keep_their_type():
    with pytest.raises(LaunchError, match="barrier divergence"):
        run_in_worker(raise_launch_error, timeout_s=60, label="launch")


def test_other_exceptions_become_worker_crash_errors_with_the_traceback():
    with pytest.raises(WorkerCrashError, match=r"ValueError: bad value 42"):
        run_in_worker(raise_value_error, timeout_s=60, label="value")


def test_env_reaches_the_worker():
    assert run_in_worker(read_env, "PORTKERN_TEST_FLAG", timeout_s=60, label="env",
                         env={"PORTKERN_TEST_FLAG": "on"}) == "on"
    assert run_in_worker(read_env, "PORTKERN_TEST_FLAG", timeout_s=60, label="env") == ""
    shutdown_workers()
