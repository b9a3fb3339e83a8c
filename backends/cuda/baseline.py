"""The NVIDIA baseline: cuBLAS through CuPy where CuPy is installed, else through PyTorch's CUDA build.

Runs inside the device worker, timed like a candidate (events, L2 flushed before each trial).
"""

from __future__ import annotations

import ctypes
import importlib
import statistics
from collections.abc import Callable
from typing import Any

from portkern.harness.baselines import BLAS_FAMILIES, BaselineTiming, dim, iqr, time_torch, triangular_system

# cuBLAS enumerations (cublas_api.h): fill mode lower 0 / upper 1, operation N 0, non-unit diagonal 0.
_FILL_LOWER, _FILL_UPPER, _OP_N, _DIAG_NON_UNIT = 0, 1, 0, 0


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
    if family in ("gemv_n", "gemv_t", "ger"):
        m, n = dim(sizes, "m", "M"), dim(sizes, "n", "N")
        # BLAS's column-major m x n matrix: the transpose of a row-major n x m array
        op = family[-1].upper() if family != "ger" else "N"
        rows, cols = (m, n) if op == "N" else (n, m)        # y = op(A) x: y has rows, x has cols
        if batch > 1:
            if family == "ger":
                return None     # CuPy exposes no batched ger: PyTorch's batched form is used instead
            # a batch of matrix-vector products is one strided-batched cuBLAS gemm with n = 1
            a = vec(batch * m * n).reshape(batch, n, m).transpose(0, 2, 1)
            a = a if op == "N" else a.transpose(0, 2, 1)
            x = vec(batch * cols).reshape(batch, cols, 1)
            out = cp.empty((batch, rows, 1), dtype=dt)
            return f"cuBLAS batched gemv {op} (CuPy matmul)", lambda: cp.matmul(a, x, out=out)
        a = cp.asfortranarray(vec(m * n).reshape(m, n))
        if family == "ger":
            x, y = vec(n), vec(m)
            return "cuBLAS ger (CuPy)", lambda: cublas.ger(1.0, y, x, a)
        x, y = vec(cols), vec(rows)
        return f"cuBLAS gemv {op} (CuPy)", lambda: cublas.gemv(op, 1.0, a, x, 0.5, y)
    if family == "gemm":
        m, n, k = dim(sizes, "m", "M"), dim(sizes, "n", "N"), dim(sizes, "k", "K")
        a, b = vec(batch * m * k).reshape(batch, m, k), vec(batch * k * n).reshape(batch, k, n)
        c = cp.empty((batch, m, n), dtype=dt)
        return "cuBLAS gemm (CuPy matmul)", lambda: cp.matmul(a, b, out=c)
    if family in ("trsv_lower", "trsv_upper"):
        return _cupy_trsv(cp, family == "trsv_upper", dim(sizes, "n", "N"), dt)
    return None


def _loaded_cublas(cp: Any) -> ctypes.CDLL | None:
    """The cuBLAS library CuPy loaded into this process (CuPy's Python API has no trsv), or None."""
    cp.cuda.device.get_cublas_handle()         # makes CuPy load cuBLAS
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split()[-1] for line in maps if "/libcublas.so" in line}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def _cupy_trsv(cp: Any, upper: bool, n: int, dt: Any) -> tuple[str, Callable[[], Any]] | None:
    """cuBLAS's trsv (one right-hand side, unit stride) on CuPy's cuBLAS handle, solving in place."""
    names = {"float32": "cublasStrsv_v2", "float64": "cublasDtrsv_v2"}
    lib = _loaded_cublas(cp) if dt.name in names else None
    if lib is None:
        return None
    solve = getattr(lib, names[dt.name])
    solve.restype = ctypes.c_int
    handle = cp.cuda.device.get_cublas_handle()
    set_stream = lib.cublasSetStream_v2
    set_stream.restype = ctypes.c_int
    set_stream(ctypes.c_void_p(handle), ctypes.c_void_p(cp.cuda.get_current_stream().ptr))
    # column-major for cuBLAS; the triangle it reads holds the system, the other is zero
    a = cp.asfortranarray(triangular_system(cp, n, dt, upper))
    x = cp.random.default_rng(1).standard_normal(n, dtype=cp.float64).astype(dt)
    fill = _FILL_UPPER if upper else _FILL_LOWER

    def op() -> Any:
        status = solve(ctypes.c_void_p(handle), fill, _OP_N, _DIAG_NON_UNIT, n, ctypes.c_void_p(a.data.ptr), n,
                       ctypes.c_void_p(x.data.ptr), 1)
        if status != 0:
            raise RuntimeError(f"{names[dt.name]} returned cuBLAS status {status}")
        return x

    return f"cuBLAS trsv {'upper' if upper else 'lower'} (CuPy's handle)", op


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
