"""The 32-lane hazard is observable on the emulator: a CUDA kernel that hard-codes 32 lanes is right
at warp width 32, wrong at 64, and right at 64 again after the translator's automatic fix."""

from __future__ import annotations

import numpy as np
import pytest
from portkern.backends import get

from portkern.model import CompileOptions
from portkern.translate.engine import translate_source

emu = get("emu")
pytestmark = pytest.mark.skipif(not emu.available().ok, reason="no host C++ compiler for the emulator")

HARD_CODED_32 = r"""
#include <cuda_runtime.h>
// Sum of x: warp reduction, broadcast of the warp total from lane 0, one atomic per warp.
__global__ void warp_sum(const float* x, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int lane = threadIdx.x & 31;
  float v = i < n ? x[i] : 0.0f;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffff, v, o);
  v = __shfl_sync(0xffffffff, v, 0);
  if (lane == 0) atomicAdd(out, v);
}
// Count of positive x: one ballot per warp, popcount by lane 0.
__global__ void count_positive(const float* x, int* count, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int lane = threadIdx.x % 32;
  unsigned int b = __ballot_sync(0xffffffff, i < n && x[i] > 0.0f);
  if (lane == 0) atomicAdd(count, __popc(b));
}
"""
ENTRIES = ["warp_sum", "count_positive"]


def _run(source: str, wave: int, x: np.ndarray) -> tuple[float, int]:
    compiled = emu.compile(source, None, CompileOptions(entries=ENTRIES, wavefront=wave), name=f"hazard{wave}")
    n = len(x)
    total = np.zeros(1, np.float32)
    count = np.zeros(1, np.int32)
    grid, block = (n + 255) // 256, 256
    emu.load(compiled, "warp_sum")(x, total, np.int32(n), grid=grid, block=block)
    emu.load(compiled, "count_positive")(x, count, np.int32(n), grid=grid, block=block)
    return float(total[0]), int(count[0])


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    x = rng.uniform(-0.5, 1.0, 10_000)
    # The upper 32 lanes of every 64 hold larger values, so counting one half twice shows.
    x = (x + (np.arange(x.size) % 64 >= 32)).astype(np.float32)
    return x, float(x.astype(np.float64).sum()), int((x > 0).sum())


def test_hard_coded_32_lanes_is_right_at_width_32(data):
    x, total, positives = data
    got_total, got_count = _run(HARD_CODED_32, 32, x)
    assert got_total == pytest.approx(total, rel=1e-4)
    assert got_count == positives


def test_hard_coded_32_lanes_is_wrong_at_width_64(data):
    x, total, positives = data
    got_total, got_count = _run(HARD_CODED_32, 64, x)
    assert abs(got_total - total) > 0.1 * total
    assert got_count != positives


def test_translator_fix_is_right_at_width_64(data):
    x, total, positives = data
    result = translate_source(HARD_CODED_32, "hip")
    assert any(h.kind == "ballot-width" and h.fixed for h in result.hazards)
    assert "warpSize" in result.text
    got_total, got_count = _run(result.text, 64, x)
    assert got_total == pytest.approx(total, rel=1e-4)
    assert got_count == positives
