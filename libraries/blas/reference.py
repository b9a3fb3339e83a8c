"""float64 reference implementations of the blas library's kernels, for any array namespace.

Each function takes the kernel's arguments by name (arrays flat as the kernel sees them, float64;
scalars as floats; sizes and strides as ints) and the array namespace ``xp`` the arrays belong to
(numpy on the host, CuPy on a GPU; only ``xp.`` functions are used), and returns every output/in-out
argument by name. Batched arguments arrive as 2-D arrays [batch, per-batch elements]; ``per_batch``
applies a single-problem function to each batch. Matrices are column-major with a leading dimension.

Outputs that sum products also return, under MAGNITUDES, the sum of the terms' absolute values
(what a correct kernel's rounding error is proportional to when the terms cancel).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

Args = dict[str, Any]
Result = dict[str, Any]
MAGNITUDES = "__magnitudes__"   # portkern.harness.references.MAGNITUDES


def per_batch(fn: Callable[..., Result]) -> Callable[..., Result]:
    """Run ``fn`` once per batch when any argument is batched (2-D), stacking its outputs."""

    @functools.wraps(fn)
    def wrapper(args: Args, dtype: str, xp: Any = np) -> Result:
        batched = [k for k, v in args.items() if getattr(v, "ndim", 0) == 2]
        if not batched:
            return fn(args, dtype, xp)
        count = args[batched[0]].shape[0]
        outs = [fn({k: (v[b] if k in batched else v) for k, v in args.items()}, dtype, xp) for b in range(count)]
        stacked = {k: xp.stack([o[k] for o in outs]) for k in outs[0] if k != MAGNITUDES}
        if MAGNITUDES in outs[0]:
            stacked[MAGNITUDES] = {k: xp.stack([o[MAGNITUDES][k] for o in outs]) for k in outs[0][MAGNITUDES]}
        return stacked

    return wrapper


def strided(v: Any, n: int, inc: int) -> Any:
    """The n elements of a vector stored with increment inc (a view)."""
    return v[: 1 + (n - 1) * inc : inc] if n > 0 else v[:0]


def matrix(flat: Any, rows: int, cols: int, ld: int) -> Any:
    """Column-major rows x cols matrix with leading dimension ld, as a (writable) 2-D view."""
    return flat[: ld * cols].reshape(cols, ld).T[:rows, :]


def _copy(xp: Any, v: Any) -> Any:
    return xp.array(v, dtype=xp.float64, copy=True)


# --------------------------------------------------------------------------- level 1


@per_batch
def axpy(args: Args, dtype: str, xp: Any = np) -> Result:
    n, incx, incy = args["n"], args.get("incx", 1), args.get("incy", 1)
    y = _copy(xp, args["y"])
    magnitude = xp.abs(y)
    term = float(args["alpha"]) * strided(args["x"], n, incx)
    strided(y, n, incy)[:] += term
    strided(magnitude, n, incy)[:] += xp.abs(term)
    return {"y": y, MAGNITUDES: {"y": magnitude}}


@per_batch
def scal(args: Args, dtype: str, xp: Any = np) -> Result:
    n, incx = args["n"], args.get("incx", 1)
    x = _copy(xp, args["x"])
    strided(x, n, incx)[:] *= float(args["alpha"])
    return {"x": x}


@per_batch
def copy(args: Args, dtype: str, xp: Any = np) -> Result:
    n, incx, incy = args["n"], args.get("incx", 1), args.get("incy", 1)
    y = _copy(xp, args["y"])
    strided(y, n, incy)[:] = strided(args["x"], n, incx)
    return {"y": y}


@per_batch
def swap(args: Args, dtype: str, xp: Any = np) -> Result:
    n, incx, incy = args["n"], args.get("incx", 1), args.get("incy", 1)
    x = _copy(xp, args["x"])
    y = _copy(xp, args["y"])
    xs, ys = strided(x, n, incx), strided(y, n, incy)
    tmp = xs.copy()
    xs[:] = ys
    ys[:] = tmp
    return {"x": x, "y": y}


@per_batch
def rot(args: Args, dtype: str, xp: Any = np) -> Result:
    n, incx, incy = args["n"], args.get("incx", 1), args.get("incy", 1)
    c, s = float(args["c"]), float(args["s"])
    x = _copy(xp, args["x"])
    y = _copy(xp, args["y"])
    mag_x, mag_y = xp.abs(x), xp.abs(y)
    xs, ys = strided(x, n, incx), strided(y, n, incy)
    x_old, y_old = xs.copy(), ys.copy()
    xs[:] = c * x_old + s * y_old
    ys[:] = c * y_old - s * x_old
    terms = abs(c) * xp.abs(x_old) + abs(s) * xp.abs(y_old)
    strided(mag_x, n, incx)[:] = terms
    strided(mag_y, n, incy)[:] = abs(c) * xp.abs(y_old) + abs(s) * xp.abs(x_old)
    return {"x": x, "y": y, MAGNITUDES: {"x": mag_x, "y": mag_y}}


@per_batch
def dot(args: Args, dtype: str, xp: Any = np) -> Result:
    n = args["n"]
    xs, ys = strided(args["x"], n, args.get("incx", 1)), strided(args["y"], n, args.get("incy", 1))
    return {"result": xp.reshape(xp.dot(xs, ys), (1,)),
            MAGNITUDES: {"result": xp.reshape(xp.dot(xp.abs(xs), xp.abs(ys)), (1,))}}


@per_batch
def nrm2(args: Args, dtype: str, xp: Any = np) -> Result:
    xs = strided(args["x"], args["n"], args.get("incx", 1))
    if not xs.size:
        return {"result": xp.zeros(1)}
    # Scale first: the sum of squares of float64 inputs may overflow where the norm does not.
    scale = xp.max(xp.abs(xs))
    safe = xp.where(scale > 0, scale, 1.0)
    return {"result": xp.reshape(scale * xp.sqrt(xp.sum((xs / safe) ** 2)), (1,))}


@per_batch
def asum(args: Args, dtype: str, xp: Any = np) -> Result:
    xs = strided(args["x"], args["n"], args.get("incx", 1))
    return {"result": xp.reshape(xp.sum(xp.abs(xs)), (1,))}


@per_batch
def iamax(args: Args, dtype: str, xp: Any = np) -> Result:
    xs = strided(args["x"], args["n"], args.get("incx", 1))
    # 1-based; the first index wins ties; 0 for an empty vector.
    if not xs.size:
        return {"result": xp.zeros(1, dtype=xp.int64)}
    return {"result": xp.reshape(xp.argmax(xp.abs(xs)).astype(xp.int64) + 1, (1,))}


# --------------------------------------------------------------------------- level 2


def _gemv(args: Args, transpose: bool, xp: Any) -> Result:
    m, n, lda = args["m"], args["n"], args["lda"]
    a = matrix(args["A"], m, n, lda)
    op = a.T if transpose else a
    x = strided(args["x"], op.shape[1], args.get("incx", 1))
    y = _copy(xp, args["y"])
    magnitude = xp.abs(y)
    ys = strided(y, op.shape[0], args.get("incy", 1))
    alpha, beta = float(args["alpha"]), float(args["beta"])
    # BLAS: beta == 0 means y is not read.
    terms = abs(alpha) * (xp.abs(op) @ xp.abs(x)) + (abs(beta) * xp.abs(ys) if beta != 0.0 else 0.0)
    ys[:] = alpha * (op @ x) + (beta * ys if beta != 0.0 else 0.0)
    strided(magnitude, op.shape[0], args.get("incy", 1))[:] = terms
    return {"y": y, MAGNITUDES: {"y": magnitude}}


@per_batch
def gemv_n(args: Args, dtype: str, xp: Any = np) -> Result:
    return _gemv(args, False, xp)


@per_batch
def gemv_t(args: Args, dtype: str, xp: Any = np) -> Result:
    return _gemv(args, True, xp)


@per_batch
def ger(args: Args, dtype: str, xp: Any = np) -> Result:
    m, n, lda = args["m"], args["n"], args["lda"]
    flat = _copy(xp, args["A"])
    magnitude = xp.abs(flat)
    a = matrix(flat, m, n, lda)
    x = strided(args["x"], m, args.get("incx", 1))
    y = strided(args["y"], n, args.get("incy", 1))
    update = float(args["alpha"]) * xp.outer(x, y)
    matrix(magnitude, m, n, lda)[:] += xp.abs(update)
    a += update
    return {"A": flat, MAGNITUDES: {"A": magnitude}}


def _trsv(args: Args, upper: bool, xp: Any) -> Result:
    n, lda, incx = args["n"], args["lda"], args.get("incx", 1)
    a = matrix(args["A"], n, n, lda)
    x = _copy(xp, args["x"])
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
def trsv_lower(args: Args, dtype: str, xp: Any = np) -> Result:
    return _trsv(args, False, xp)


@per_batch
def trsv_upper(args: Args, dtype: str, xp: Any = np) -> Result:
    return _trsv(args, True, xp)


# --------------------------------------------------------------------------- level 3


@per_batch
def gemm_nn(args: Args, dtype: str, xp: Any = np) -> Result:
    m, n, k = args["m"], args["n"], args["k"]
    a = matrix(args["A"], m, k, args["lda"])
    b = matrix(args["B"], k, n, args["ldb"])
    flat = _copy(xp, args["C"])
    magnitude = xp.abs(flat)
    c = matrix(flat, m, n, args["ldc"])
    alpha, beta = float(args["alpha"]), float(args["beta"])
    terms = abs(alpha) * (xp.abs(a) @ xp.abs(b)) + (abs(beta) * xp.abs(c) if beta != 0.0 else 0.0)
    c[:] = alpha * (a @ b) + (beta * c if beta != 0.0 else 0.0)
    matrix(magnitude, m, n, args["ldc"])[:] = terms
    return {"C": flat, MAGNITUDES: {"C": magnitude}}
