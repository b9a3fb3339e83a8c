"""Workers that stay (one per GPU), exercised on the CPU with plain Python jobs.

A sticky device error cannot be caused without a GPU, so ``fake_sticky_*`` jobs stand in for it: a
job leaves a module-level mark in its worker process, and the stand-in device check reports it as
the CUDA driver would report an illegal address on every later call.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from portkern import backends
from portkern.errors import KernelTimeoutError, LaunchError, WorkerCrashError
from portkern.harness.runners.base import Runner, get_runner
from portkern.harness.runners.device import device_health
from portkern.model import Availability, CompileOptions, CompileResult
from portkern.worker import WorkerPool

_sticky = ""          # set inside a worker by the stand-in for a kernel that faults


def pid_of_worker(_job: object = None) -> int:
    return os.getpid()


def sleep_then_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def sleep_for(seconds: float) -> None:
    time.sleep(seconds)


def die_by_signal() -> None:
    print("about to abort", flush=True)
    os.abort()


def raise_launch_error() -> None:
    raise LaunchError("cuModuleGetFunction failed: symbol not found")


def fake_sticky_fault(value: int) -> int:
    global _sticky
    _sticky = "cuCtxSynchronize failed with CUDA_ERROR_ILLEGAL_ADDRESS (700)"
    return value


def fake_sticky_fault_then_raise() -> None:
    fake_sticky_fault(0)
    raise LaunchError("cuStreamSynchronize failed with CUDA_ERROR_ILLEGAL_ADDRESS (700)")


def fake_device_health() -> str:
    return _sticky


def read_env(name: str) -> str:
    return os.environ.get(name, "")


@pytest.fixture
def pool():
    p = WorkerPool()
    yield p
    p.stop_all()


def _call(pool, fn, *args, key="gpu0", timeout_s=60.0, **kw):
    return pool.call(key, fn, *args, timeout_s=timeout_s, label="candidate-7", probe=fake_device_health, **kw)


def test_one_worker_serves_many_calls(pool):
    pids = {_call(pool, pid_of_worker) for _ in range(3)}
    assert len(pids) == 1 and os.getpid() not in pids
    assert pool.stats["gpu0"].calls == 3 and pool.stats["gpu0"].starts == 1
    assert pool.worker_pids() == {"gpu0": pids.pop()}


def test_jobs_from_different_modules_share_the_worker(pool):
    first = _call(pool, pid_of_worker, preload=("portkern.harness.validate",))
    assert _call(pool, device_health) == ""                 # a job of another (portkern) module
    assert _call(pool, pid_of_worker, preload=("portkern.harness.bench",)) == first
    assert pool.stats["gpu0"].starts == 1


def test_a_crash_fails_the_call_and_the_next_call_gets_a_fresh_worker(pool):
    first = _call(pool, pid_of_worker)
    with pytest.raises(WorkerCrashError) as info:
        _call(pool, die_by_signal)
    assert "candidate-7" in str(info.value) and "SIGABRT" in str(info.value) and "about to abort" in str(info.value)
    second = _call(pool, pid_of_worker)
    assert second != first and pool.stats["gpu0"].starts == 2


def test_a_hang_is_killed_at_its_limit_and_the_worker_restarts(pool):
    first = _call(pool, pid_of_worker)
    start = time.monotonic()
    with pytest.raises(KernelTimeoutError, match="candidate-7"):
        _call(pool, sleep_for, 60, timeout_s=1.0)
    assert time.monotonic() - start < 30
    with pytest.raises(ProcessLookupError):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            os.kill(first, 0)
            time.sleep(0.05)
    assert _call(pool, pid_of_worker) != first


def test_a_sticky_device_error_fails_the_candidate_and_replaces_the_worker(pool):
    first = _call(pool, pid_of_worker)
    # The job itself returned normally: the device check after it is what catches the fault.
    with pytest.raises(WorkerCrashError) as info:
        _call(pool, fake_sticky_fault, 5)
    text = str(info.value)
    assert "candidate-7" in text and "CUDA_ERROR_ILLEGAL_ADDRESS" in text and "unusable" in text
    assert "CUDA_ERROR_ILLEGAL_ADDRESS" in pool.stats["gpu0"].discarded[-1]
    second = _call(pool, pid_of_worker)
    assert second != first
    assert _call(pool, pid_of_worker) == second      # the fresh worker is healthy and stays


def test_a_sticky_error_raised_by_the_job_also_replaces_the_worker(pool):
    first = _call(pool, pid_of_worker)
    with pytest.raises(WorkerCrashError, match="ILLEGAL_ADDRESS") as info:
        _call(pool, fake_sticky_fault_then_raise)
    assert isinstance(info.value.__cause__, LaunchError)
    assert _call(pool, pid_of_worker) != first


def test_an_ordinary_error_fails_the_call_but_keeps_a_sound_worker(pool):
    first = _call(pool, pid_of_worker)
    with pytest.raises(LaunchError, match="symbol not found"):
        _call(pool, raise_launch_error)
    assert _call(pool, pid_of_worker) == first


def test_a_different_environment_restarts_the_worker(pool):
    assert _call(pool, read_env, "PORTKERN_TEST_FLAG", env={"PORTKERN_TEST_FLAG": "a"}) == "a"
    first = _call(pool, pid_of_worker, env={"PORTKERN_TEST_FLAG": "a"})
    assert _call(pool, read_env, "PORTKERN_TEST_FLAG", env={"PORTKERN_TEST_FLAG": "b"}) == "b"
    assert _call(pool, pid_of_worker, env={"PORTKERN_TEST_FLAG": "b"}) != first


def test_calls_spread_over_idle_keys_one_call_per_key_at_a_time(pool):
    keys = [("gpu", 0), ("gpu", 1)]
    results: list[int] = []

    def one() -> None:
        results.append(pool.call(keys, sleep_then_pid, 1.0, timeout_s=60, label="c"))

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 2                      # two devices, two workers, side by side
    assert set(pool.worker_pids().values()) == set(results)
    assert pool.call(keys, pid_of_worker, timeout_s=60, label="c") in results


class FakeDeviceRunner(Runner):
    """A runner flagged as a device runner whose jobs are plain Python (no GPU here)."""

    name = "fake-device"
    persistent_worker = True

    def available(self) -> Availability:
        return Availability(backend="fake-device", ok=True)

    def open_session(self, compiled, target):
        raise NotImplementedError("the fake device runner runs plain jobs only")

    def worker_probe(self):
        return fake_device_health


def _compiled() -> CompileResult:
    return CompileResult(backend="fake", target="t", arch="a", code_type="cubin", binary=b"", entry_symbols=[],
                         entry_map={}, resources={}, log="", compiler="", options=CompileOptions(), cache_key="")


def test_device_runners_keep_their_worker_unless_configured_off(monkeypatch):
    from portkern.worker import worker_pool

    runner = FakeDeviceRunner(backends.get("emu"))
    try:
        pids = {runner.run_job(pid_of_worker, None, compiled=_compiled(), timeout_s=60, label="v") for _ in range(2)}
        assert len(pids) == 1
        monkeypatch.setenv("PORTKERN_VALIDATE_PERSISTENT_WORKER", "0")
        fresh = {runner.run_job(pid_of_worker, None, compiled=_compiled(), timeout_s=60, label="v") for _ in range(2)}
        assert len(fresh) == 2 and not fresh & pids
        # Fresh workers on one device still take turns: two half-second jobs take a second.
        start = time.monotonic()
        threads = [threading.Thread(target=runner.run_job, args=(sleep_for, 0.5),
                                    kwargs={"compiled": _compiled(), "timeout_s": 60, "label": "v"}) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert time.monotonic() - start >= 1.0
        assert worker_pool().stats[("fake-device", 0)].busy_s >= 1.0
    finally:
        worker_pool().stop_all()


def test_the_emulator_gets_a_fresh_worker_per_call():
    emu = get_runner("emu")
    assert not emu.persistent_worker and emu.limit_worker_memory
    first = emu.run_job(pid_of_worker, None, compiled=_compiled(), timeout_s=60, label="e")
    assert emu.run_job(pid_of_worker, None, compiled=_compiled(), timeout_s=60, label="e") != first


def test_device_workers_see_only_their_own_gpu(monkeypatch):
    cuda = get_runner("cuda")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert cuda.worker_env(_compiled(), device_index=1)["CUDA_VISIBLE_DEVICES"] == "1"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    env = cuda.worker_env(_compiled(), device_index=1)
    assert env["CUDA_VISIBLE_DEVICES"] == "6"
    assert env["PORTKERN_WORKER_INIT"].endswith(":prepare_worker")
    assert env["PORTKERN_WORKER_DRIVER"].endswith(":CudaDriverApi")
    assert get_runner("hip").worker_env(_compiled())["PORTKERN_WORKER_DRIVER"].endswith(":HipDriverApi")


def test_the_device_check_is_quiet_in_a_process_without_a_driver():
    assert device_health() == ""
