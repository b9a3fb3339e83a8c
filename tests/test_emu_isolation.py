"""Crashes and hangs of emulated kernels end in typed errors in the caller, which stays alive."""

from __future__ import annotations

import numpy as np
import pytest
from portkern.backends import get

from portkern.errors import KernelTimeoutError, LoadError, WorkerCrashError
from portkern.model import CompileOptions
from portkern.worker import run_in_worker

emu = get("emu")
pytestmark = pytest.mark.skipif(not emu.available().ok, reason="no host C++ compiler for the emulator")

OUT_OF_BOUNDS = r"""
#include <hip/hip_runtime.h>
__global__ void write_one_past(float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) y[i] = 1.0f;   // off by one: i == n writes past the end
}
"""

SPIN = r"""
#include <hip/hip_runtime.h>
__global__ void spin_forever(volatile int* flag) {
  while (flag[0] == 0) { }
}
"""


def launch_write_one_past(compiled, n: int) -> float:
    """Worker-side: launch the off-by-one kernel on an array of exactly n floats."""
    y = np.zeros(n, np.float32)
    emu.load(compiled, "write_one_past")(y, np.int32(n), grid=(n + 63) // 64, block=64)
    return float(y.sum())


def launch_spin(compiled) -> None:
    flag = np.zeros(1, np.int32)
    emu.load(compiled, "spin_forever")(flag, grid=1, block=1)


def test_out_of_bounds_write_is_caught_by_the_sanitizer_build():
    compiled = emu.compile(OUT_OF_BOUNDS, None, CompileOptions(entries=["write_one_past"], sanitize=True,
                                                                 wavefront=32), name="oob")
    env = emu.worker_env(compiled)
    assert "LD_PRELOAD" in env
    with pytest.raises(WorkerCrashError) as info:
        run_in_worker(launch_write_one_past, compiled, 100, timeout_s=120, label="write_one_past (asan)", env=env)
    message = str(info.value)
    assert "write_one_past (asan)" in message
    assert "AddressSanitizer" in message and "heap-buffer-overflow" in message
    # When n is a multiple of the block size no thread has i == n: the same build runs clean.
    assert run_in_worker(launch_write_one_past, compiled, 128, timeout_s=120, label="oob", env=env) == 128.0


def test_sanitizer_build_refuses_to_load_in_a_plain_process():
    compiled = emu.compile(OUT_OF_BOUNDS, None, CompileOptions(entries=["write_one_past"], sanitize=True,
                                                                 wavefront=32), name="oob")
    with pytest.raises(LoadError, match="AddressSanitizer"):
        emu.load(compiled, "write_one_past")


def test_infinite_loop_ends_in_a_timeout_naming_the_kernel():
    compiled = emu.compile(SPIN, None, CompileOptions(entries=["spin_forever"], wavefront=64), name="spin")
    with pytest.raises(KernelTimeoutError, match="spin_forever"):
        run_in_worker(launch_spin, compiled, timeout_s=3, label="spin_forever on emu")
    # The caller is alive and can keep using workers.
    assert run_in_worker(sum, [1, 2, 3], timeout_s=60, label="after timeout") == 6
