"""Compile throughput per backend (kernels per minute on this machine) and the time of a cache hit.

    .venv/bin/python benchmarks/bench_compile.py [--kernels N] [--workers W]

Each kernel is a distinct small reduction-style kernel (a different constant defeats the cache),
compiled with the real compiler in a fresh cache through compile_many.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

from portkern.backends.cuda import CudaBackend
from portkern.backends.hip import HipBackend

from portkern.compile.parallel import CompileJob, compile_many
from portkern.errors import ToolMissingError
from portkern.model import CompileOptions
from portkern.targets import get_target

KERNEL = """{header}
template <int NB, typename T>
__global__ void __launch_bounds__(NB) scaled_sum(int n, const T* __restrict__ x, T* __restrict__ out) {{
  __shared__ T part[NB];
  T acc = 0;
  for (int i = blockIdx.x * NB + threadIdx.x; i < n; i += gridDim.x * NB) acc += x[i] * T({k});
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int s = NB / 2; s > 0; s >>= 1) {{
    if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }}
  if (threadIdx.x == 0) out[blockIdx.x] = part[0];
}}
"""
HEADERS = {"cuda": "#include <cuda_runtime.h>", "hip": "#include <hip/hip_runtime.h>"}


def bench(backend_cls, target_name: str, kernels: int, workers: int) -> None:
    target = get_target(target_name)
    with tempfile.TemporaryDirectory() as cache:
        backend = backend_cls(cache_dir=cache)
        try:
            backend.compiler_path(target)
        except ToolMissingError as exc:
            print(f"{backend.name:5s} {target_name:7s} skipped: {exc.message}")
            return
        options = CompileOptions(entries=["scaled_sum<256, float>", "scaled_sum<256, double>"])
        jobs = [CompileJob(KERNEL.format(header=HEADERS[target.dialect], k=i + 1), target, options,
                           name=f"k{i}", backend=backend) for i in range(kernels)]
        start = time.perf_counter()
        outcomes = compile_many(jobs, max_workers=workers)
        wall = time.perf_counter() - start
        failed = [o for o in outcomes if not o.ok]
        if failed:
            print(f"{backend.name:5s} {target_name:7s} {len(failed)} compiles failed: {failed[0].error}")
            return
        hits = []
        for _ in range(20):
            t0 = time.perf_counter()
            res = backend.compile(jobs[0].source, target, options, name="k0")
            hits.append(time.perf_counter() - t0)
            assert res.cached
        per_kernel = statistics.median(o.result.compile_seconds for o in outcomes)
        print(f"{backend.name:5s} {target_name:7s} {kernels / wall * 60:7.1f} kernels/min "
              f"({kernels} kernels, {workers} workers, {wall:.1f} s wall, {per_kernel:.2f} s median per compile)  "
              f"cache hit median {statistics.median(hits) * 1e3:.1f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kernels", type=int, default=8)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    print(f"compile throughput on {os.cpu_count()} cores")
    for cls, target in [(CudaBackend, "h100"), (CudaBackend, "a100"), (HipBackend, "mi300x"), (HipBackend, "mi250x")]:
        bench(cls, target, args.kernels, args.workers)


if __name__ == "__main__":
    main()
