"""float64 reference implementations of the blas library's kernels.

Each function takes the kernel's arguments by name (arrays flat as the kernel sees them, float64;
scalars as floats; sizes and strides as ints) and returns every output/in-out argument by name.
Batched arguments arrive as 2-D arrays [batch, per-batch elements]; ``per_batch`` applies a
single-problem function to each batch. Matrices are column-major with a leading dimension.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

Args = dict[str, Any]
Result = dict[str, np.ndarray]


def per_batch(fn: Callable[[Args, str], Result]) -> Callable[[Args, str], Result]:
    """Run ``fn`` once per batch when any argument is batched (2-D), stacking its outputs."""

    @functools.wraps(fn)
    def wrapper(args: Args, dtype: str) -> Result:
        batched = [k for k, v in args.items() if isinstance(v, np.ndarray) and v.ndim == 2]
        if not batched:
            return fn(args, dtype)
        count = args[batched[0]].shape[0]
        outs = [fn({k: (v[b] if k in batched else v) for k, v in args.items()}, dtype) for b in range(count)]
        return {k: np.stack([o[k] for o in outs]) for k in outs[0]}

    return wrapper


def strided(v: np.ndarray, n: int, inc: int) -> np.ndarray:
    """The n elements of a vector stored with increment inc (a view)."""
    return v[: 1 + (n - 1) * inc : inc] if n > 0 else v[:0]


def matrix(flat: np.ndarray, rows: int, cols: int, ld: int) -> np.ndarray:
    """Column-major rows x cols matrix with leading dimension ld, as a (writable) 2-D view."""
    return flat[: ld * cols].reshape(cols, ld).T[:rows, :]


# --------------------------------------------------------------------------- level 1


@per_batch
def axpy(args: Args, dtype: str) -> Result:
    n, incx, incy = args["n"], args.get("incx", 1), args.get("incy", 1)
    y = np.array(args["y"], dtype=np.float64)
    strided(y, n, incy)[:] += float(args["alpha"]) * strided(args["x"], n, incx)
    return {"y": y}


@per_batch
def scal(args: Args, dtype: str) -> Result:
    n, incx = args["n"], args.get("incx", 1)
    x = np.array(args["x"], dtype=np.float64)
    strided(x, n, incx)[:] *= float(args["alpha"])
    return {"x": x}


@per_batch
def copy(args: Args, dtype: str) -> Result:
    n, incx, incy = args["n"], args.get("incx", 1), args.get("incy", 1)
    y = np.array(args["y"], dtype=np.float64)
    strided(y, n, incy)[:] = strided(args["x"], n, incx)
    return {"y": y}


@per_batch
def swap(args: Args, dtype: str) -> Result:
    n, incx, incy = args["n"], args.get("incx", 1), args.get("incy", 1)
    x = np.array(args["x"], dtype=np.float64)
    y = np.array(args["y"], dtype=np.float64)
    xs, ys = strided(x, n, incx), strided(y, n, incy)
    tmp = xs.copy()
    xs[:] = ys
    ys[:] = tmp
    return {"x": x, "y": y}


@per_batch
def rot(args: Args, dtype: str) -> Result:
    n, incx, incy = args["n"], args.get("incx", 1), args.get("incy", 1)
    c, s = float(args["c"]), float(args["s"])
    x = np.array(args["x"], dtype=np.float64)
    y = np.array(args["y"], dtype=np.float64)
    xs, ys = strided(x, n, incx), strided(y, n, incy)
    x_old = xs.copy()
    xs[:] = c * x_old + s * ys
    ys[:] = c * ys - s * x_old
    return {"x": x, "y": y}


@per_batch
def dot(args: Args, dtype: str) -> Result:
    n = args["n"]
    xs, ys = strided(args["x"], n, args.get("incx", 1)), strided(args["y"], n, args.get("incy", 1))
    return {"result": np.array([float(np.dot(xs, ys))])}


@per_batch
def nrm2(args: Args, dtype: str) -> Result:
    xs = strided(args["x"], args["n"], args.get("incx", 1))
    # Scale first: the sum of squares of float64 inputs may overflow where the norm does not.
    scale = float(np.max(np.abs(xs))) if xs.size else 0.0
    norm = scale * float(np.sqrt(np.sum((xs / scale) ** 2))) if scale > 0 else 0.0
    return {"result": np.array([norm])}


@per_batch
def asum(args: Args, dtype: str) -> Result:
    xs = strided(args["x"], args["n"], args.get("incx", 1))
    return {"result": np.array([float(np.sum(np.abs(xs)))])}


@per_batch
def iamax(args: Args, dtype: str) -> Result:
    xs = strided(args["x"], args["n"], args.get("incx", 1))
    # 1-based; the first index wins ties; 0 for an empty vector.
    index = int(np.argmax(np.abs(xs))) + 1 if xs.size else 0
    return {"result": np.array([index], dtype=np.int64)}


# --------------------------------------------------------------------------- level 2


def _gemv(args: Args, transpose: bool) -> Result:
    m, n, lda = args["m"], args["n"], args["lda"]
    a = matrix(args["A"], m, n, lda)
    op = a.T if transpose else a
    x = strided(args["x"], op.shape[1], args.get("incx", 1))
    y = np.array(args["y"], dtype=np.float64)
    ys = strided(y, op.shape[0], args.get("incy", 1))
    alpha, beta = float(args["alpha"]), float(args["beta"])
    # BLAS: beta == 0 means y is not read.
    ys[:] = alpha * (op @ x) + (beta * ys if beta != 0.0 else 0.0)
    return {"y": y}


@per_batch
def gemv_n(args: Args, dtype: str) -> Result:
    return _gemv(args, transpose=False)


@per_batch
def gemv_t(args: Args, dtype: str) -> Result:
    return _gemv(args, transpose=True)


@per_batch
def ger(args: Args, dtype: str) -> Result:
    m, n, lda = args["m"], args["n"], args["lda"]
    flat = np.array(args["A"], dtype=np.float64)
    a = matrix(flat, m, n, lda)
    x = strided(args["x"], m, args.get("incx", 1))
    y = strided(args["y"], n, args.get("incy", 1))
    a += float(args["alpha"]) * np.outer(x, y)
    return {"A": flat}


def _trsv(args: Args, upper: bool) -> Result:
    n, lda, incx = args["n"], args["lda"], args.get("incx", 1)
    a = matrix(args["A"], n, n, lda)
    x = np.array(args["x"], dtype=np.float64)
    xs = strided(x, n, incx)
    b = xs.copy()
    order = range(n - 1, -1, -1) if upper else range(n)
    # Column-oriented substitution in float64; only the referenced triangle is read.
    for j in order:
        b[j] /= a[j, j]
        if upper:
            b[:j] -= b[j] * a[:j, j]
        else:
            b[j + 1 :] -= b[j] * a[j + 1 :, j]
    xs[:] = b
    return {"x": x}


@per_batch
def trsv_lower(args: Args, dtype: str) -> Result:
    return _trsv(args, upper=False)


@per_batch
def trsv_upper(args: Args, dtype: str) -> Result:
    return _trsv(args, upper=True)


# --------------------------------------------------------------------------- level 3


@per_batch
def gemm_nn(args: Args, dtype: str) -> Result:
    m, n, k = args["m"], args["n"], args["k"]
    a = matrix(args["A"], m, k, args["lda"])
    b = matrix(args["B"], k, n, args["ldb"])
    flat = np.array(args["C"], dtype=np.float64)
    c = matrix(flat, m, n, args["ldc"])
    alpha, beta = float(args["alpha"]), float(args["beta"])
    c[:] = alpha * (a @ b) + (beta * c if beta != 0.0 else 0.0)
    return {"C": flat}
