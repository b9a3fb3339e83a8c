"""Vendor-library baselines for BLAS families, timed with the same protocol as candidates.

cuBLAS through CuPy where importable; otherwise PyTorch (whose ROCm builds call rocBLAS/hipBLASLt).
A family without a baseline returns None; a baseline that fails says why in its name.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BLAS_FAMILIES = ("axpy", "scal", "copy", "dot", "nrm2", "asum", "iamax", "gemv", "ger", "gemm")


@dataclass
class BaselineTiming:
    name: str
    median_ms: float
    spread_ms: float


def _dim(sizes: dict[str, int], *names: str, default: int = 1) -> int:
    for n in names:
        if n in sizes:
            return int(sizes[n])
    return default


def _cupy_op(cp: Any, family: str, sizes: dict[str, int], dtype: str) -> tuple[str, Callable[[], Any]] | None:
    from cupy import cublas

    dt = cp.dtype(dtype)
    batch = _dim(sizes, "batch_count", "batch", "B")
    rng = cp.random.default_rng(1)

    def vec(n: int):
        return rng.standard_normal(n, dtype=cp.float64).astype(dt)

    if family in ("axpy", "scal", "copy", "dot", "nrm2", "asum", "iamax"):
        n = _dim(sizes, "n", "N") * batch
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
        m, n = _dim(sizes, "m", "M"), _dim(sizes, "n", "N")
        a = vec(m * n).reshape(m, n)
        x, y = vec(n), vec(m)
        if family == "gemv":
            return "cuBLAS gemv (CuPy)", lambda: cublas.gemv("N", 1.0, a, x, 0.5, y)
        return "cuBLAS ger (CuPy)", lambda: cublas.ger(1.0, y, x, a)
    if family == "gemm":
        m, n, k = _dim(sizes, "m", "M"), _dim(sizes, "n", "N"), _dim(sizes, "k", "K")
        a, b = vec(batch * m * k).reshape(batch, m, k), vec(batch * k * n).reshape(batch, k, n)
        c = cp.empty((batch, m, n), dtype=dt)
        return "cuBLAS gemm (CuPy matmul)", lambda: cp.matmul(a, b, out=c)
    return None


def _torch_op(torch: Any, family: str, sizes: dict[str, int], dtype: str) -> tuple[str, Callable[[], Any]] | None:
    dt = getattr(torch, dtype)
    dev = "cuda"
    batch = _dim(sizes, "batch_count", "batch", "B")
    gen = torch.Generator(device=dev).manual_seed(1)

    def t(*shape: int):
        return torch.randn(*shape, device=dev, dtype=dt, generator=gen)

    lib = "rocBLAS" if getattr(torch.version, "hip", None) else "cuBLAS"
    if family in ("axpy", "scal", "copy", "dot", "nrm2", "asum", "iamax"):
        n = _dim(sizes, "n", "N") * batch
        x, y = t(n), t(n)
        ops = {"axpy": lambda: y.add_(x, alpha=0.5), "scal": lambda: x.mul_(0.5), "copy": lambda: y.copy_(x),
               "dot": lambda: torch.dot(x, y),
               "nrm2": lambda: torch.linalg.vector_norm(x), "asum": lambda: x.abs().sum(),
               "iamax": lambda: x.abs().argmax()}
        return f"{lib} {family} (PyTorch)", ops[family]
    if family == "gemv":
        m, n = _dim(sizes, "m", "M"), _dim(sizes, "n", "N")
        a, x = t(m, n), t(n)
        return f"{lib} gemv (PyTorch mv)", lambda: torch.mv(a, x)
    if family == "ger":
        m, n = _dim(sizes, "m", "M"), _dim(sizes, "n", "N")
        a, x, y = t(m, n), t(m), t(n)
        return f"{lib} ger (PyTorch addr)", lambda: a.addr_(x, y)
    if family == "gemm":
        m, n, k = _dim(sizes, "m", "M"), _dim(sizes, "n", "N"), _dim(sizes, "k", "K")
        a, b = t(batch, m, k), t(batch, k, n)
        return f"{lib} gemm (PyTorch bmm)", lambda: torch.bmm(a, b)
    return None


def time_vendor(family: str, sizes: dict[str, int], dtype: str, *, trials: int, warmup: int,
                flush_bytes: int) -> BaselineTiming | None:
    """Median and IQR (ms) of the vendor routine for this family, L2 flushed before each trial."""
    if family not in BLAS_FAMILIES:
        return None
    try:
        import cupy as cp

        made = _cupy_op(cp, family, sizes, dtype)
        if made is None:
            return None
        name, op = made
        flush = cp.empty(flush_bytes, dtype=cp.uint8)
        events = [(cp.cuda.Event(), cp.cuda.Event()) for _ in range(trials)]
        for _ in range(warmup):
            op()
        for i, (start, end) in enumerate(events):
            flush.fill(i & 0xFF)
            start.record()
            op()
            end.record()
        events[-1][1].synchronize()
        times = [cp.cuda.get_elapsed_time(s, e) for s, e in events]
    except ImportError:
        try:
            import torch
        except ImportError:
            return None
        if not torch.cuda.is_available():
            return None
        made = _torch_op(torch, family, sizes, dtype)
        if made is None:
            return None
        name, op = made
        flush = torch.empty(flush_bytes, dtype=torch.uint8, device="cuda")
        events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(trials)]
        for _ in range(warmup):
            op()
        for i, (start, end) in enumerate(events):
            flush.fill_(i & 0xFF)
            start.record()
            op()
            end.record()
        torch.cuda.synchronize()
        times = [s.elapsed_time(e) for s, e in events]
    return BaselineTiming(name, statistics.median(times), iqr(times))


def iqr(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[2] - q[0]
