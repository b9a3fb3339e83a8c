"""float64 reference implementations of the solver library's kernels (LAPACK semantics).

Arguments and results follow the same convention as the blas references: arrays flat as the
kernel sees them, of the namespace ``xp`` (numpy on the host, CuPy on a GPU; only ``xp.`` functions
are used), matrices column-major with a leading dimension, batched arguments as 2-D arrays
[batch, per-batch elements], integer arrays as int64.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

Args = dict[str, Any]
Result = dict[str, Any]
UNDEFINED = "__undefined__"     # portkern.harness.references.UNDEFINED
# Relative gap under which two pivot candidates count as tied: rounding in the kernel's precision
# may order them either way, and LU with another pivot order is just as correct.
PIVOT_TIE = {"float64": 1e-9, "float32": 1e-4, "float16": 2e-2, "bfloat16": 5e-2}


def per_batch(fn: Callable[..., Result]) -> Callable[..., Result]:
    """Run ``fn`` once per batch when any argument is batched (2-D), stacking its outputs."""

    @functools.wraps(fn)
    def wrapper(args: Args, dtype: str, xp: Any = np) -> Result:
        batched = [k for k, v in args.items() if getattr(v, "ndim", 0) == 2]
        if not batched:
            return fn(args, dtype, xp)
        count = args[batched[0]].shape[0]
        outs = [fn({k: (v[b] if k in batched else v) for k, v in args.items()}, dtype, xp) for b in range(count)]
        undefined = [f"batch {b}: {o[UNDEFINED]}" for b, o in enumerate(outs) if UNDEFINED in o]
        if undefined:
            return {UNDEFINED: "; ".join(undefined)}
        return {k: xp.stack([o[k] for o in outs]) for k in outs[0]}

    return wrapper


def matrix(flat: Any, rows: int, cols: int, ld: int) -> Any:
    """Column-major rows x cols matrix with leading dimension ld, as a (writable) 2-D view."""
    return flat[: ld * cols].reshape(cols, ld).T[:rows, :]


@per_batch
def laswp(args: Args, dtype: str, xp: Any = np) -> Result:
    n, lda, k1, k2 = args["n"], args["lda"], args["k1"], args["k2"]
    flat = xp.array(args["A"], dtype=xp.float64, copy=True)
    a = matrix(flat, lda, n, lda)
    ipiv = xp.asarray(args["ipiv"]).astype(xp.int64)
    for i in range(k1 - 1, k2):
        p = int(ipiv[i]) - 1
        if p != i:
            a[[i, p], :] = a[[p, i], :]
    return {"A": flat}


@per_batch
def getf2(args: Args, dtype: str, xp: Any = np) -> Result:
    """Right-looking LU with partial pivoting, column by column, as LAPACK's getf2."""
    m, n, lda = args["m"], args["n"], args["lda"]
    flat = xp.array(args["A"], dtype=xp.float64, copy=True)
    a = matrix(flat, m, n, lda)
    steps = min(m, n)
    ipiv = [0] * steps
    info = 0
    for j in range(steps):
        column = xp.abs(a[j:, j])
        p = j + int(xp.argmax(column))  # first maximum wins ties
        # Column 0 holds the inputs themselves: the kernel sees the same values and picks the same
        # row. Later columns are computed: a near tie there leaves the pivot order to rounding.
        if j > 0 and column.shape[0] > 1:
            near = int(xp.count_nonzero(column >= float(column.max()) * (1.0 - PIVOT_TIE.get(dtype, 1e-4))))
            if near > 1 and float(column.max()) > 0.0:
                return {UNDEFINED: f"pivot candidates in column {j + 1} tie within rounding"}
        ipiv[j] = p + 1
        if a[p, j] == 0.0:
            info = info or j + 1
            continue
        if p != j:
            a[[j, p], :] = a[[p, j], :]
        a[j + 1 :, j] *= 1.0 / a[j, j]
        a[j + 1 :, j + 1 :] -= xp.outer(a[j + 1 :, j], a[j, j + 1 :])
    return {"A": flat, "ipiv": xp.asarray(ipiv, dtype=xp.int64), "info": xp.asarray([info], dtype=xp.int64)}


@per_batch
def potf2_lower(args: Args, dtype: str, xp: Any = np) -> Result:
    """Left-looking Cholesky of the lower triangle, as LAPACK's potf2 with uplo = 'L'."""
    n, lda = args["n"], args["lda"]
    flat = xp.array(args["A"], dtype=xp.float64, copy=True)
    a = matrix(flat, n, n, lda)
    info = 0
    for j in range(n):
        ajj = float(a[j, j] - xp.dot(a[j, :j], a[j, :j]))
        if not ajj > 0.0:
            a[j, j] = ajj
            info = j + 1
            break
        ajj = math.sqrt(ajj)
        a[j, j] = ajj
        a[j + 1 :, j] = (a[j + 1 :, j] - a[j + 1 :, :j] @ a[j, :j]) / ajj
    return {"A": flat, "info": xp.asarray([info], dtype=xp.int64)}


def _lacpy(args: Args, part: str, xp: Any) -> Result:
    m, n = args["m"], args["n"]
    a = matrix(xp.asarray(args["A"], dtype=xp.float64), m, n, args["lda"])
    flat = xp.array(args["B"], dtype=xp.float64, copy=True)
    b = matrix(flat, m, n, args["ldb"])
    rows, cols = xp.indices((m, n))
    keep = {"full": xp.ones((m, n), dtype=bool), "lower": rows >= cols, "upper": rows <= cols}[part]
    b[keep] = a[keep]
    return {"B": flat}


@per_batch
def lacpy(args: Args, dtype: str, xp: Any = np) -> Result:
    return _lacpy(args, "full", xp)


@per_batch
def lacpy_lower(args: Args, dtype: str, xp: Any = np) -> Result:
    return _lacpy(args, "lower", xp)
