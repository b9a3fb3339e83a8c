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
