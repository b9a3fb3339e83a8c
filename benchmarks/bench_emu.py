"""CPU emulator throughput.

1. A 2^20-element block reduction (256 threads per block, shuffles and barriers), validated
   against a float64 sum, at warp width 32 and 64: seconds per launch.
2. An elementwise kernel (no barrier, no warp operation): threads per second on the plain-loop path.

Usage: python benchmarks/bench_emu.py [--threads N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

REDUCTION = r"""
#include <hip/hip_runtime.h>
template <int BLOCK>
__global__ void block_reduce(const float* __restrict__ x, float* __restrict__ partial, int n) {
  __shared__ float warp_sums[BLOCK / 32];
  int i = blockIdx.x * BLOCK + threadIdx.x;
  float v = i < n ? x[i] : 0.0f;
  for (int o = warpSize / 2; o > 0; o >>= 1) v += __shfl_down(v, o);
  int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < BLOCK / warpSize ? warp_sums[lane] : 0.0f;
    for (int o = warpSize / 2; o > 0; o >>= 1) v += __shfl_down(v, o);
    if (lane == 0) partial[blockIdx.x] = v;
  }
}
__global__ void scale_add(const float* x, float* y, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=0, help="CPU worker threads (default: all cores)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if args.threads:
        os.environ["PORTKERN_EMU_THREADS"] = str(args.threads)

    from portkern.backends import get

    from portkern.model import CompileOptions

    emu = get("emu")
    n = 1 << 20
    block = 256
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    reference = float(x.astype(np.float64).sum())
    print(f"emulator: {emu.available().compiler}; CPU threads: {os.environ.get('PORTKERN_EMU_THREADS') or os.cpu_count()}")
    for wave in (32, 64):
        compiled = emu.compile(REDUCTION, None, CompileOptions(entries=["block_reduce<256>", "scale_add"],
                                                               wavefront=wave), name=f"bench_emu{wave}")
        reduce_ = emu.load(compiled, "block_reduce<256>")
        blocks = n // block
        times = []
        for _ in range(args.repeats):
            partial = np.full(blocks, np.nan, np.float32)
            start = time.perf_counter()
            reduce_(x, partial, np.int32(n), grid=blocks, block=block)
            total = float(partial.astype(np.float64).sum())
            ok = abs(total - reference) <= 1e-5 * float(np.abs(x).sum())
            times.append(time.perf_counter() - start)
            if not ok:
                raise SystemExit(f"wave {wave}: reduction wrong: {total} vs {reference}")
        print(f"wave{wave}: block reduction of 2^20 floats (256 threads/block, validated): "
              f"median {statistics.median(times):.3f} s, best {min(times):.3f} s "
              f"({n / statistics.median(times) / 1e6:.1f} M threads/s)")

        axpy = emu.load(compiled, "scale_add")
        y = np.zeros(n, np.float32)
        times = []
        for _ in range(args.repeats):
            times.append(axpy(x, y, np.float32(2.0), np.int32(n), grid=n // block, block=block, wait=True))
        med = statistics.median(times)
        print(f"wave{wave}: elementwise (plain-loop path): median {med * 1e3:.1f} ms for 2^20 threads "
              f"({n / med / 1e6:.0f} M threads/s)")


if __name__ == "__main__":
    main()
