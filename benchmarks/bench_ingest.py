"""Ingest of large trees: lines per CPU second and peak memory, cold (empty on-disk cache), warm
(unchanged tree) and warm with one file changed, each in a fresh process, optionally beside another
checkout.

Two trees: a generated one in the style of a real HIP solver library, and the rocBLAS corpus's
``library/src`` (copied, so one of its files can be changed) when it is present. The generated tree
is written, not copied: a shared header defines the library's kernel macro, a namespace opened and
closed through object-like macros (``SYNTH_BEGIN_NAMESPACE``), a configuration macro set per
architecture, and device helpers; each module header holds kernels whose batch loop opens and closes
under ``#if SYNTH_GRID_YZ_16BIT`` (braces that balance only per configuration), host launchers and
explicit instantiations. Each ingest runs in a fresh process so that its time and peak resident
memory are its own; the per-file cache is the on-disk one the CLI and the pipeline use.

    .venv/bin/python benchmarks/bench_ingest.py [--lines 120000] [--rocblas PATH] [--compare PATH_OF_OTHER_CHECKOUT]

Measured 2026-11-29 on the shared 2-core development machine (loaded; CPU seconds of the ingest in
its process): generated tree, 120,378 lines, 3,648 kernels, all found: cold 4.09 s (29,500 lines/s),
warm 1.04 s, one file changed 1.03 s (2 of 610 file passes parsed, 608 from the cache), peak 104 MB.
rocBLAS library/src, 57,582 lines, 79 kernels: cold 1.29 s, warm 0.11 s, one file changed 0.19 s,
peak 47 MB. With every file cached, what remains is assembling the catalog: a closure and a unit
per kernel (3,648 here), which is not incremental.
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
root, cache_dir = sys.argv[1], sys.argv[2]
cache = FileCache(cache_dir)
c0, t0 = time.process_time(), time.perf_counter()
cat = ingest_tree(root, profile="rocblas", cache=cache)
print(json.dumps({"kernels": len(cat.kernels), "units": len(cat.units), "lines": cat.lines,
                  "skipped": len(cat.skipped), "cpu_s": time.process_time() - c0,
                  "wall_s": time.perf_counter() - t0, "parsed": cache.misses, "reused": cache.hits,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run_child(checkout: Path, root: Path, cache_dir: Path, timeout_s: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    try:
        out = subprocess.run([sys.executable, "-c", CHILD, str(root), str(cache_dir)], env=env,
                             capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish in {timeout_s:.0f} s"}
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"exit {out.returncode}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def three_runs(checkout: Path, root: Path, changed: Path, work: Path, timeout_s: float) -> dict[str, dict]:
    """Cold, warm and warm after appending a comment to ``changed`` (restored afterwards)."""
    cache_dir = Path(tempfile.mkdtemp(prefix="cache-", dir=work))
    out = {"cold": run_child(checkout, root, cache_dir, timeout_s),
           "warm": run_child(checkout, root, cache_dir, timeout_s)}
    before = changed.read_bytes()
    changed.write_bytes(before + b"\n// one line more\n")
    try:
        out["one file changed"] = run_child(checkout, root, cache_dir, timeout_s)
    finally:
        changed.write_bytes(before)
    return out


def report(label: str, runs: dict[str, dict], kernels_expected: int | None) -> None:
    cold = runs["cold"]
    for kind, r in runs.items():
        if "error" in r:
            print(f"{label}, {kind}: {r['error']}")
            continue
        found = f"{r['kernels']}/{kernels_expected}" if kernels_expected else f"{r['kernels']}"
        speed = "" if kind == "cold" or "error" in cold else f", {cold['cpu_s'] / r['cpu_s']:.1f}x less CPU than cold"
        print(f"{label}, {kind}: {found} kernels, {r['skipped']} skipped regions; {r['cpu_s']:.2f} s CPU "
              f"({r['lines'] / r['cpu_s']:,.0f} lines/s), {r['wall_s']:.2f} s wall{speed}; "
              f"{r['parsed']} file passes parsed, {r['reused']} from the cache; peak {r['peak_rss_mb']:.0f} MB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=120_000)
    ap.add_argument("--rocblas", type=Path, default=REPO.parent / "shared" / "corpus" / "rocblas",
                    help="a rocBLAS checkout (its library/src is ingested; skipped when absent)")
    ap.add_argument("--compare", type=Path, default=None, help="another portkern checkout to run on the same trees")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds allowed per ingest")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="portkern-bench-ingest-"))
    checkouts = [("this checkout", REPO)] + ([(str(args.compare), args.compare.resolve())] if args.compare else [])
    try:
        tree = work / "generated"
        lines, modules = build_tree(tree, args.lines)
        expected = modules * KERNELS_PER_MODULE
        print(f"generated tree: {lines} lines, {modules} module headers, {HELPERS} helpers, {expected} kernels")
        changed = tree / "src" / f"module_{modules // 2:04d}.hpp"
        for label, checkout in checkouts:
            report(f"{label}, generated", three_runs(checkout, tree, changed, work, args.timeout), expected)
        src = args.rocblas / "library" / "src"
        if src.is_dir():
            copy = work / "rocblas-src"
            shutil.copytree(src, copy)
            print(f"rocBLAS library/src from {args.rocblas}")
            changed = copy / "blas1" / "rocblas_axpy_kernels.hpp"
            for label, checkout in checkouts:
                report(f"{label}, rocBLAS", three_runs(checkout, copy, changed, work, args.timeout), None)
        else:
            print(f"rocBLAS: no library/src under {args.rocblas}; pass --rocblas PATH")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
