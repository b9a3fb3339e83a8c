"""A two-kernel HIP library for pipeline tests, written into a test's folder: ``scale`` builds,
validates and sweeps its block size; ``broken`` is rejected by the compiler (``undefined_name``).

Shared by the port and report tests; a test that needs a variant passes its own manifest or
``scale`` source to ``write_minilib`` (``edited`` changes a fixture text and fails if it drifts).
"""

from __future__ import annotations

from pathlib import Path

MINILIB_YAML = """\
name: minilib
dialect: hip
license: MIT
description: two small kernels for pipeline tests
include_dirs: [include]
sources: ["src/*.hip"]
compile_flags: []
kernels:
  - name: scale
    family: scale
    file: src/scale.hip
    symbol: scale_kernel
    dtypes: [float32, float64]
    template_args: ["NB", "T"]
    args:
      - {name: n, role: size, value: n}
      - {name: alpha, role: scalar}
      - {name: x, role: inout, shape: n}
    launch: {grid: ["ceil_div(n, NB)", 1, 1], block: [NB, 1, 1], shared_bytes: 0}
    reference: reference.py:scale
    sizes: {validate: [{n: 1}, {n: 333}], bench: [{n: 16777216}]}
    bytes: 2 * n * sizeof(T)
    flops: n
    tunables: {NB: [64, 128, 256]}
    defaults: {NB: 256}
  - name: broken
    family: broken
    file: src/broken.hip
    symbol: broken_kernel
    dtypes: [float32]
    template_args: ["T"]
    args:
      - {name: n, role: size, value: n}
      - {name: x, role: inout, shape: n}
    launch: {grid: ["ceil_div(n, 64)", 1, 1], block: [64, 1, 1], shared_bytes: 0}
    reference: reference.py:identity
    sizes: {validate: [{n: 5}], bench: [{n: 1024}]}
    bytes: 2 * n * sizeof(T)
    flops: n
"""

SCALE_HIP = """\
#include <hip/hip_runtime.h>
#include "mini_helpers.hpp"

template <int NB, typename T>
__global__ __launch_bounds__(NB) void scale_kernel(int n, T alpha, T* x)
{
    int i = blockIdx.x * NB + threadIdx.x;
    if (i < n)
        x[i] = mini_mul(alpha, x[i]);
}
"""

HELPERS_HPP = """\
#pragma once
template <typename T>
__device__ __forceinline__ T mini_mul(T a, T b) { return a * b; }
"""

BROKEN_HIP = """\
#include <hip/hip_runtime.h>

template <typename T>
__global__ void broken_kernel(int n, T* x)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        x[i] = x[i] * undefined_name;
}
"""

REFERENCE_PY = """\
import numpy as np


def scale(args, dtype):
    return {"x": args["alpha"] * np.asarray(args["x"], dtype=np.float64)}


def identity(args, dtype):
    return {"x": np.asarray(args["x"], dtype=np.float64)}
"""


# The scale kernel staged through 16 KiB of LDS with 64-thread blocks: few resident waves, so the
# estimate can tell a larger block size from the default and the sweep runs even without a GPU.
STARVED_SCALE_HIP = SCALE_HIP.replace(
    "    int i = blockIdx.x * NB + threadIdx.x;\n",
    "    __shared__ T stage[4096];\n    int i = blockIdx.x * NB + threadIdx.x;\n"
    "    stage[threadIdx.x] = i < n ? x[i] : T(0);\n    __syncthreads();\n",
).replace("mini_mul(alpha, x[i])", "mini_mul(alpha, stage[threadIdx.x])")


def edited(text: str, *changes: tuple[str, str]) -> str:
    """``text`` with each (old, new) replaced; an ``old`` that is not there is a broken fixture."""
    for old, new in changes:
        assert old in text, f"minilib fixture no longer contains {old!r}"
        text = text.replace(old, new)
    return text


def write_minilib(root: Path, *, starved: bool = False, manifest: str = MINILIB_YAML,
                  scale_hip: str = SCALE_HIP) -> Path:
    """The library under ``root/minilib``; returns its manifest. ``starved``: the LDS-bound variant."""
    if starved:
        manifest = edited(manifest, ("defaults: {NB: 256}", "defaults: {NB: 64}"))
        scale_hip = STARVED_SCALE_HIP
    lib = root / "minilib"
    (lib / "src").mkdir(parents=True, exist_ok=True)
    (lib / "include").mkdir(exist_ok=True)
    (lib / "library.yaml").write_text(manifest)
    (lib / "src" / "scale.hip").write_text(scale_hip)
    (lib / "src" / "broken.hip").write_text(BROKEN_HIP)
    (lib / "include" / "mini_helpers.hpp").write_text(HELPERS_HPP)
    (lib / "reference.py").write_text(REFERENCE_PY)
    return lib / "library.yaml"
