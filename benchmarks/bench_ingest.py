"""Ingest of a large generated library tree in the style of a real HIP solver library: lines per
CPU second and peak memory, cold and with the per-file cache, optionally beside another checkout.

The tree is generated, not copied: a shared header defines the library's kernel macro, a namespace
opened and closed through object-like macros (``SYNTH_BEGIN_NAMESPACE``), a configuration macro
set per architecture, and device helpers; each module header holds kernels whose batch loop opens
and closes under ``#if SYNTH_GRID_YZ_16BIT`` (braces that balance only per configuration), host
launchers and explicit instantiations. Each ingest runs in a fresh process so that its peak
resident memory is its own.

    .venv/bin/python benchmarks/bench_ingest.py [--lines 120000] [--compare PATH_OF_OTHER_CHECKOUT]

Measured 2026-11-29 on the shared 2-core development machine (busy; CPU seconds, one process):
120,378 lines, 304 module headers, 3,648 kernels: all found, no skipped regions; cold 3.55 s CPU
(34,000 lines per CPU second), warm 1.05 s CPU, peak resident memory 117 MB. The main checkout of
the same day on the same tree: 3.83 s CPU, 117 MB (this tree does not reproduce the slow held-out
library, whose cause is not known here).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

HEADER = """#pragma once
#include <hip/hip_runtime.h>

#define SYNTH_BEGIN_NAMESPACE namespace synth {{
#define SYNTH_END_NAMESPACE }}
#define SYNTH_KERNEL(lb_) static __global__ __launch_bounds__((lb_)) void
#define SYNTH_DEVICE_ILF __device__ __forceinline__

#if defined(__HIP_DEVICE_COMPILE__) && defined(__GFX12__)
#define SYNTH_GRID_YZ_16BIT 1
#else
#define SYNTH_GRID_YZ_16BIT 0
#endif
static constexpr int synth_grid_limit = 65535;

SYNTH_BEGIN_NAMESPACE
{helpers}
SYNTH_END_NAMESPACE
"""

HELPER = """
template <typename T>
SYNTH_DEVICE_ILF T helper_{i}(T a, T b, int k)
{{
    T acc = a;
    for(int j = 0; j < k; ++j)
        acc = acc * b + T({i});
    return acc;
}}
"""

KERNEL = """
template <int NB, typename T>
SYNTH_KERNEL(NB)
kernel_{m}_{k}(int n, T* __restrict__ x, const T* __restrict__ y, long stride_x, int batch_count)
{{
    int      tid   = blockIdx.x * NB + threadIdx.x;
    uint32_t batch = blockIdx.z;
#if SYNTH_GRID_YZ_16BIT
    for(; batch < batch_count; batch += synth_grid_limit)
    {{
#endif
        T* xb = x + batch * stride_x;
        if(tid < n)
        {{
            T v = helper_{h1}(xb[tid], y[tid], 3);
            v   = helper_{h2}(v, T(2), 2);
            xb[tid] = v;
        }}
#if SYNTH_GRID_YZ_16BIT
    }}
#endif
}}

template <typename T>
void launch_{m}_{k}(hipStream_t stream, int n, T* x, const T* y, long stride_x, int batch_count)
{{
    dim3 grid((n - 1) / 256 + 1, 1, batch_count);
    hipLaunchKernelGGL((kernel_{m}_{k}<256, T>), grid, dim3(256), 0, stream, n, x, y, stride_x, batch_count);
}}

template void launch_{m}_{k}<float>(hipStream_t, int, float*, const float*, long, int);
template void launch_{m}_{k}<double>(hipStream_t, int, double*, const double*, long, int);
"""

HELPERS = 200
KERNELS_PER_MODULE = 12


def build_tree(dest: Path, min_lines: int) -> tuple[int, int]:
    (dest / "include").mkdir(parents=True)
    header = HEADER.format(helpers="".join(HELPER.format(i=i) for i in range(HELPERS)))
    (dest / "include" / "synth_common.hpp").write_text(header)
    lines = header.count("\n")
    modules = 0
    while lines < min_lines:
        body = ['#pragma once\n#include "synth_common.hpp"\n\nSYNTH_BEGIN_NAMESPACE\n']
        for k in range(KERNELS_PER_MODULE):
            h1, h2 = (modules * 7 + k) % HELPERS, (modules * 13 + 3 * k) % HELPERS
            body.append(KERNEL.format(m=modules, k=k, h1=h1, h2=h2))
        body.append("\nSYNTH_END_NAMESPACE\n")
        text = "".join(body)
        path = dest / "src" / f"module_{modules:04d}.hpp"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        lines += text.count("\n")
        modules += 1
    return lines, modules


# Run in a child process (the checkout under test first on the path): prints one JSON line.
CHILD = r"""
import json, resource, sys, time
from portkern.ingest import ingest_tree
from portkern.ingest.build import FileCache
root = sys.argv[1]
cache = FileCache(sys.argv[2]) if len(sys.argv) > 2 else FileCache()
c0, t0 = time.process_time(), time.perf_counter()
cat = ingest_tree(root, profile="rocblas", cache=cache)
cold_cpu, cold_wall = time.process_time() - c0, time.perf_counter() - t0
c0 = time.process_time()
ingest_tree(root, profile="rocblas", cache=cache)
warm_cpu = time.process_time() - c0
print(json.dumps({"kernels": len(cat.kernels), "units": len(cat.units), "lines": cat.lines,
                  "skipped": len(cat.skipped), "cold_cpu_s": cold_cpu, "cold_wall_s": cold_wall,
                  "warm_cpu_s": warm_cpu,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_child(checkout: Path, root: Path, timeout_s: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, str(root)], env=env, capture_output=True, text=True,
                             timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout_s:.0f} s"}
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(label: str, r: dict, kernels_expected: int) -> None:
    if "error" in r:
        print(f"{label}: {r['error']}")
        return
    print(f"{label}: {r['kernels']}/{kernels_expected} kernels, {r['skipped']} skipped regions; "
          f"cold {r['cold_cpu_s']:.2f} s CPU ({r['lines'] / r['cold_cpu_s']:,.0f} lines/s), "
          f"warm {r['warm_cpu_s']:.2f} s CPU; peak {r['peak_rss_mb']:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=120_000)
    ap.add_argument("--compare", type=Path, default=None, help="another portkern checkout to run on the same tree")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per ingest")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="portkern-bench-ingest-"))
    try:
        lines, modules = build_tree(work, args.lines)
        expected = modules * KERNELS_PER_MODULE
        print(f"tree: {lines} lines, {modules} module headers, {HELPERS} helpers, {expected} kernels")
        mine = run_child(REPO, work, args.timeout)
        report("this checkout", mine, expected)
        if args.compare:
            other = run_child(args.compare.resolve(), work, args.timeout)
            report(f"{args.compare}", other, expected)
            if "error" not in mine and "error" not in other:
                print(f"speed-up (cold CPU): {other['cold_cpu_s'] / mine['cold_cpu_s']:.1f}x; "
                      f"memory: {other['peak_rss_mb'] / mine['peak_rss_mb']:.1f}x less")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
