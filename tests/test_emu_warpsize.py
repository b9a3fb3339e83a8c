"""warpSize on the emulator: a constant expression in builds for a HIP target (as HIP's own headers
have it through ROCm 6, and as rocBLAS's reductions need), a run-time value for a CUDA target."""

from __future__ import annotations

import numpy as np
import pytest
from portkern.backends import get

from portkern.errors import CompileError
from portkern.model import CompileOptions
from portkern.targets import get_target

emu = get("emu")
pytestmark = pytest.mark.skipif(not emu.available().ok, reason="no host C++ compiler for the emulator")

# The rocBLAS shape: a wavefront reduction templated on the width, a shared array of warpSize
# partial sums, and a constexpr count of wavefronts per block.
REDUCE = r"""
#include <hip/hip_runtime.h>

template <int WIDTH, typename T>
__device__ T wave_reduce(T v) {
  for (int o = WIDTH / 2; o > 0; o >>= 1) v += __shfl_down(v, o, WIDTH);
  return v;
}

template <int NB, typename T>
__global__ void block_sums(const T* x, T* out, int n, int* widths) {
  static_assert(warpSize == __AMDGCN_WAVEFRONT_SIZE, "one width per build");
  static constexpr int waves = NB / warpSize;
  __shared__ T psums[warpSize];
  int i = blockIdx.x * NB + threadIdx.x;
  T v = i < n ? x[i] : T(0);
  int lane = threadIdx.x % warpSize, wave = threadIdx.x / warpSize;
  v = wave_reduce<warpSize>(v);
  if (lane == 0) psums[wave] = v;
  __syncthreads();
  if (wave == 0) {
    v = lane < waves ? psums[lane] : T(0);
    v = wave_reduce<warpSize>(v);
    if (lane == 0) { out[blockIdx.x] = v; widths[blockIdx.x] = waves; }
  }
}
"""
ENTRY = "block_sums<256, double>"


@pytest.mark.parametrize("wave", [32, 64])
def test_warpsize_as_template_argument_and_array_size_runs_at_both_widths(wave):
    compiled = emu.compile(REDUCE, get_target("mi300x"), CompileOptions(entries=[ENTRY], wavefront=wave),
                           name=f"wave_const{wave}")
    assert compiled.arch == f"cpu-wave{wave}"
    n, nb = 1000, 256
    blocks = (n + nb - 1) // nb
    x = np.random.default_rng(7).standard_normal(n)
    out = np.full(blocks, np.nan)
    widths = np.zeros(blocks, np.int32)
    emu.load(compiled, ENTRY)(x, out, np.int32(n), widths, grid=blocks, block=nb, wait=True)
    want = [x[b * nb:(b + 1) * nb].sum() for b in range(blocks)]
    np.testing.assert_allclose(out, want, rtol=1e-12)
    assert widths.tolist() == [nb // wave] * blocks


def test_the_two_widths_are_separate_builds():
    mi300x = get_target("mi300x")
    a = emu.compile(REDUCE, mi300x, CompileOptions(entries=[ENTRY], wavefront=32), name="wave_key")
    b = emu.compile(REDUCE, mi300x, CompileOptions(entries=[ENTRY], wavefront=64), name="wave_key")
    assert a.cache_key != b.cache_key


def test_cuda_target_keeps_warpsize_a_run_time_value():
    # nvcc rejects `__shared__ T s[warpSize]`; the emulator standing in for an NVIDIA target does too.
    with pytest.raises(CompileError, match="isn.t constant|not a constant|non-constant|variable length"):
        emu.compile(REDUCE, get_target("h100"), CompileOptions(entries=[ENTRY]), name="wave_const_cuda")
