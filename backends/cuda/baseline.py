"""The NVIDIA baseline: cuBLAS through CuPy where CuPy is installed, else through PyTorch's CUDA build.

Runs inside the device worker, timed like a candidate (events, L2 flushed before each trial).
"""

from __future__ import annotations

import importlib
import statistics
from collections.abc import Callable
from typing import Any

from portkern.harness.baselines import BLAS_FAMILIES, BaselineTiming, dim, iqr, time_torch


def _optional(module: str) -> Any | None:
    """An optional third-party package (CuPy, PyTorch), or None when it is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def cupy_op(cp: Any, family: str, sizes: dict[str, int], dtype: str) -> tuple[str, Callable[[], Any]] | None:
    from cupy import cublas

    dt = cp.dtype(dtype)
    batch = dim(sizes, "batch_count", "batch", "B")
    rng = cp.random.default_rng(1)

    def vec(n: int):
        return rng.standard_normal(n, dtype=cp.float64).astype(dt)

    if family in ("axpy", "scal", "copy", "dot", "nrm2", "asum", "iamax"):
        n = dim(sizes, "n", "N") * batch
        x, y = vec(n), vec(n)
        a = dt.type(0.5)
        if family == "copy":
            # CuPy has no cuBLAS copy; a contiguous same-type assignment is a device-to-device memcpy.
            return "cudaMemcpy (CuPy)", lambda: y.__setitem__(slice(None), x)
        ops: dict[str, Callable[[], Any]] = {
            "axpy": lambda: cublas.axpy(a, x, y), "scal": lambda: cublas.scal(a, x),
            "dot": lambda: cublas.dot(x, y), "nrm2": lambda: cublas.nrm2(x), "asum": lambda: cublas.asum(x),
            "iamax": lambda: cublas.iamax(x)}
        return f"cuBLAS {family} (CuPy)", ops[family]
    if family in ("gemv", "ger"):
        m, n = dim(sizes, "m", "M"), dim(sizes, "n", "N")
        if batch > 1:
            if family == "ger":
                return None     # CuPy exposes no batched ger: PyTorch's batched form is used instead
            # a batch of matrix-vector products is one strided-batched cuBLAS gemm with n = 1
            a, x = vec(batch * m * n).reshape(batch, m, n), vec(batch * n).reshape(batch, n, 1)
            out = cp.empty((batch, m, 1), dtype=dt)
            return "cuBLAS batched gemv (CuPy matmul)", lambda: cp.matmul(a, x, out=out)
        a = vec(m * n).reshape(m, n)
        x, y = vec(n), vec(m)
        if family == "gemv":
            return "cuBLAS gemv (CuPy)", lambda: cublas.gemv("N", 1.0, a, x, 0.5, y)
        return "cuBLAS ger (CuPy)", lambda: cublas.ger(1.0, y, x, a)
    if family == "gemm":
        m, n, k = dim(sizes, "m", "M"), dim(sizes, "n", "N"), dim(sizes, "k", "K")
        a, b = vec(batch * m * k).reshape(batch, m, k), vec(batch * k * n).reshape(batch, k, n)
        c = cp.empty((batch, m, n), dtype=dt)
        return "cuBLAS gemm (CuPy matmul)", lambda: cp.matmul(a, b, out=c)
    return None


def time_cublas(family: str, sizes: dict[str, int], dtype: str, *, trials: int, warmup: int,
                flush_bytes: int) -> BaselineTiming | None:
    """Median and IQR (ms) of cuBLAS's routine for this family; None without CuPy or PyTorch."""
    if family not in BLAS_FAMILIES:
        return None
    cp = _optional("cupy")
    made = cupy_op(cp, family, sizes, dtype) if cp is not None else None
    if made is None:           # no CuPy, or a routine its cuBLAS API lacks: PyTorch's, where it is there
        torch = _optional("torch")
        if torch is None:
            return None
        return time_torch(torch, family, sizes, dtype, trials=trials, warmup=warmup, flush_bytes=flush_bytes)
    name, op = made
    flush = cp.empty(flush_bytes, dtype=cp.uint8)
    events = [(cp.cuda.Event(), cp.cuda.Event()) for _ in range(trials)]
    for _ in range(warmup):
        op()
    for start, end in events:
        flush.max()                # read twice the cache: emptied, and clean, as before a candidate's trial
        start.record()
        op()
        end.record()
    events[-1][1].synchronize()
    times = [cp.cuda.get_elapsed_time(s, e) for s, e in events]
    return BaselineTiming(name, statistics.median(times), iqr(times))
