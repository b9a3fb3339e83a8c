"""float64 reference implementations of the solver library's kernels (LAPACK semantics).

Arguments and results follow the same convention as the blas references: arrays flat as the
kernel sees them, matrices column-major with a leading dimension, batched arguments as 2-D arrays
[batch, per-batch elements], integer arrays as int64.
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


def matrix(flat: np.ndarray, rows: int, cols: int, ld: int) -> np.ndarray:
    """Column-major rows x cols matrix with leading dimension ld, as a (writable) 2-D view."""
    return flat[: ld * cols].reshape(cols, ld).T[:rows, :]


@per_batch
def laswp(args: Args, dtype: str) -> Result:
    n, lda, k1, k2 = args["n"], args["lda"], args["k1"], args["k2"]
    flat = np.array(args["A"], dtype=np.float64)
    a = matrix(flat, lda, n, lda)
    ipiv = np.asarray(args["ipiv"]).astype(np.int64)
    for i in range(k1 - 1, k2):
        p = int(ipiv[i]) - 1
        if p != i:
            a[[i, p], :] = a[[p, i], :]
    return {"A": flat}


@per_batch
def getf2(args: Args, dtype: str) -> Result:
    """Right-looking LU with partial pivoting, column by column, as LAPACK's getf2."""
    m, n, lda = args["m"], args["n"], args["lda"]
    flat = np.array(args["A"], dtype=np.float64)
    a = matrix(flat, m, n, lda)
    steps = min(m, n)
    ipiv = np.zeros(steps, dtype=np.int64)
    info = 0
    for j in range(steps):
        p = j + int(np.argmax(np.abs(a[j:, j])))  # first maximum wins ties
        ipiv[j] = p + 1
        if a[p, j] == 0.0:
            info = info or j + 1
            continue
        if p != j:
            a[[j, p], :] = a[[p, j], :]
        a[j + 1 :, j] *= 1.0 / a[j, j]
        a[j + 1 :, j + 1 :] -= np.outer(a[j + 1 :, j], a[j, j + 1 :])
    return {"A": flat, "ipiv": ipiv, "info": np.array([info], dtype=np.int64)}


@per_batch
def potf2_lower(args: Args, dtype: str) -> Result:
    """Left-looking Cholesky of the lower triangle, as LAPACK's potf2 with uplo = 'L'."""
    n, lda = args["n"], args["lda"]
    flat = np.array(args["A"], dtype=np.float64)
    a = matrix(flat, n, n, lda)
    info = 0
    for j in range(n):
        ajj = a[j, j] - float(np.dot(a[j, :j], a[j, :j]))
        if not ajj > 0.0:
            a[j, j] = ajj
            info = j + 1
            break
        ajj = float(np.sqrt(ajj))
        a[j, j] = ajj
        a[j + 1 :, j] = (a[j + 1 :, j] - a[j + 1 :, :j] @ a[j, :j]) / ajj
    return {"A": flat, "info": np.array([info], dtype=np.int64)}


def _lacpy(args: Args, part: str) -> Result:
    m, n = args["m"], args["n"]
    a = matrix(np.asarray(args["A"], dtype=np.float64), m, n, args["lda"])
    flat = np.array(args["B"], dtype=np.float64)
    b = matrix(flat, m, n, args["ldb"])
    rows, cols = np.indices((m, n))
    keep = {"full": np.ones((m, n), dtype=bool), "lower": rows >= cols, "upper": rows <= cols}[part]
    b[keep] = a[keep]
    return {"B": flat}


@per_batch
def lacpy(args: Args, dtype: str) -> Result:
    return _lacpy(args, "full")


@per_batch
def lacpy_lower(args: Args, dtype: str) -> Result:
    return _lacpy(args, "lower")
