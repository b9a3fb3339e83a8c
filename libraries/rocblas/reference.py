"""float64 references for the real rocBLAS kernels this manifest describes.

Arguments arrive by name as the harness builds them (arrays flat as the kernel sees them,
float64; scalars as floats; sizes, strides and offsets as ints); every output or in-out array is
returned by name. Batched arrays arrive as 2-D [batch, elements]. rocBLAS kernels take an offset
per vector (where element 0 sits) and an increment that may be negative, in which case the vector
is walked from its far end (the launcher moves the offset there).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

Args = dict[str, Any]
Result = dict[str, np.ndarray]


def per_batch(fn: Callable[[Args, str], Result]) -> Callable[[Args, str], Result]:
    """Apply a one-problem function to each batch when any array argument is batched (2-D)."""

    @functools.wraps(fn)
    def wrapper(args: Args, dtype: str) -> Result:
        batched = [k for k, v in args.items() if isinstance(v, np.ndarray) and v.ndim == 2]
        if not batched:
            return fn(args, dtype)
        count = args[batched[0]].shape[0]
        outs = [fn({k: (v[b] if k in batched else v) for k, v in args.items()}, dtype) for b in range(count)]
        return {k: np.stack([o[k] for o in outs]) for k in outs[0]}

    return wrapper


def vec_index(n: int, inc: int, offset: int = 0) -> np.ndarray:
    """Positions of a vector's n elements (element i at offset + i * inc)."""
    return offset + np.arange(n, dtype=np.int64) * inc


# --------------------------------------------------------------------------- level 1


@per_batch
def scal(args: Args, dtype: str) -> Result:
    n, incx = args["n"], args.get("incx", 1)
    x = np.array(args["x"], dtype=np.float64)
    ix = vec_index(n, incx, args.get("offset_x", 0))
    x[ix] *= float(args["alpha"])
    return {"x": x}


@per_batch
def axpy(args: Args, dtype: str) -> Result:
    n = args["n"]
    y = np.array(args["y"], dtype=np.float64)
    iy = vec_index(n, args.get("incy", 1), args.get("offset_y", 0))
    ix = vec_index(n, args.get("incx", 1), args.get("offset_x", 0))
    y[iy] += float(args["alpha"]) * np.asarray(args["x"], dtype=np.float64)[ix]
    return {"y": y}


@per_batch
def copy(args: Args, dtype: str) -> Result:
    n = args["n"]
    y = np.array(args["y"], dtype=np.float64)
    y[vec_index(n, args.get("incy", 1), args.get("shifty", 0))] = \
        np.asarray(args["x"], dtype=np.float64)[vec_index(n, args.get("incx", 1), args.get("shiftx", 0))]
    return {"y": y}


@per_batch
def swap(args: Args, dtype: str) -> Result:
    n = args["n"]
    x = np.array(args["x"], dtype=np.float64)
    y = np.array(args["y"], dtype=np.float64)
    ix = vec_index(n, args.get("incx", 1), args.get("offsetx", 0))
    iy = vec_index(n, args.get("incy", 1), args.get("offsety", 0))
    x[ix], y[iy] = y[iy].copy(), x[ix].copy()
    return {"x": x, "y": y}


def _elements(args: Args, name: str, inc: str, shift: str, n: int) -> np.ndarray:
    return np.asarray(args[name], dtype=np.float64)[vec_index(n, args.get(inc, 1), args.get(shift, 0))]


@per_batch
def dot(args: Args, dtype: str) -> Result:
    n = args["n"]
    xs = _elements(args, "x", "incx", "shiftx", n)
    ys = _elements(args, "y", "incy", "shifty", n)
    return {"result": np.array([float(np.dot(xs, ys))])}


@per_batch
def nrm2(args: Args, dtype: str) -> Result:
    xs = _elements(args, "x", "incx", "shiftx", args["n"])
    # scaled, so that squares of large float64 inputs cannot overflow where the norm does not
    scale = float(np.max(np.abs(xs))) if xs.size else 0.0
    norm = scale * float(np.sqrt(np.sum((xs / scale) ** 2))) if scale > 0 else 0.0
    return {"result": np.array([norm])}


@per_batch
def asum(args: Args, dtype: str) -> Result:
    xs = _elements(args, "x", "incx", "shiftx", args["n"])
    return {"result": np.array([float(np.sum(np.abs(xs)))])}


def _first_index(values: np.ndarray, pick) -> int:
    """1-based index of the first element equal to pick(values) (BLAS: the first wins ties); 0 when empty."""
    if values.size == 0:
        return 0
    return int(np.flatnonzero(values == pick(values))[0]) + 1


@per_batch
def iamax(args: Args, dtype: str) -> Result:
    # the kernel compares |x_i| in the element type: ties are judged at that precision
    xs = np.abs(_elements(args, "x", "incx", "shiftx", args["n"]).astype(_numpy_type(dtype)))
    return {"result": np.array([_first_index(xs, np.max)], dtype=np.int64)}


@per_batch
def iamin(args: Args, dtype: str) -> Result:
    xs = np.abs(_elements(args, "x", "incx", "shiftx", args["n"]).astype(_numpy_type(dtype)))
    return {"result": np.array([_first_index(xs, np.min)], dtype=np.int64)}


def _numpy_type(dtype: str):
    return {"float32": np.float32, "float64": np.float64, "float16": np.float16}.get(dtype, np.float64)


@per_batch
def rot(args: Args, dtype: str) -> Result:
    n = args["n"]
    x = np.array(args["x"], dtype=np.float64)
    y = np.array(args["y"], dtype=np.float64)
    ix = vec_index(n, args.get("incx", 1), args.get("offset_x", 0))
    iy = vec_index(n, args.get("incy", 1), args.get("offset_y", 0))
    c, s = float(args["c"]), float(args["s"])
    xv, yv = x[ix].copy(), y[iy].copy()
    x[ix] = c * xv + s * yv
    y[iy] = c * yv - s * xv
    return {"x": x, "y": y}


def rotm(args: Args, dtype: str) -> Result:
    n = args["n"]
    x = np.array(args["x"], dtype=np.float64)
    y = np.array(args["y"], dtype=np.float64)
    ix = vec_index(n, args.get("incx", 1), args.get("offset_x", 0))
    iy = vec_index(n, args.get("incy", 1), args.get("offset_y", 0))
    flag = float(args["flag"])
    h11, h21, h12, h22 = (float(args[k]) for k in ("h11", "h21", "h12", "h22"))
    if flag == 0:
        h11, h22 = 1.0, 1.0
    elif flag > 0:
        h12, h21 = 1.0, -1.0
    if flag != -2:
        w, z = x[ix].copy(), y[iy].copy()
        x[ix] = w * h11 + z * h12
        y[iy] = w * h21 + z * h22
    return {"x": x, "y": y}


# --------------------------------------------------------------------------- level 2


def matrix(flat: np.ndarray, rows: int, cols: int, ld: int) -> np.ndarray:
    """Column-major rows x cols matrix with leading dimension ld, as a (writable) 2-D view."""
    return flat[: ld * cols].reshape(cols, ld).T[:rows, :]


def _gemv(args: Args, transpose: bool) -> Result:
    m, n, lda = args["m"], args["n"], args["lda"]
    a = matrix(np.asarray(args["A"], dtype=np.float64), m, n, lda)
    op = a.T if transpose else a
    rows, cols = op.shape
    x = _elements(args, "x", "incx", "shiftx", cols)
    y = np.array(args["y"], dtype=np.float64)
    iy = vec_index(rows, args.get("incy", 1), args.get("shifty", 0))
    y[iy] = float(args["alpha"]) * (op @ x) + float(args["beta"]) * y[iy]
    return {"y": y}


@per_batch
def gemv_n(args: Args, dtype: str) -> Result:
    return _gemv(args, transpose=False)


@per_batch
def gemv_t(args: Args, dtype: str) -> Result:
    return _gemv(args, transpose=True)


@per_batch
def ger(args: Args, dtype: str) -> Result:
    m, n, lda = args["m"], args["n"], int(args["lda"])
    flat = np.array(args["A"], dtype=np.float64)
    a = matrix(flat, m, n, lda)
    x = _elements(args, "x", "incx", "shiftx", m)
    y = _elements(args, "y", "incy", "shifty", n)
    a += float(args["alpha"]) * np.outer(x, y)
    return {"A": flat}


@per_batch
def rotm_param(args: Args, dtype: str) -> Result:
    """rotm with (flag, h11, h21, h12, h22) read from the param array (one set per batch)."""
    p = np.asarray(args["param"], dtype=np.float64)[args.get("offset_param", 0):]
    return rotm({**args, "flag": p[0], "h11": p[1], "h21": p[2], "h12": p[3], "h22": p[4]}, dtype)


@per_batch
def gemv_scal(args: Args, dtype: str) -> Result:
    n = args["n"]
    y = np.array(args["y"], dtype=np.float64)
    iy = vec_index(n, args.get("incy", 1), args.get("offset_y", 0))
    y[iy] *= float(args["beta"])
    return {"y": y}
