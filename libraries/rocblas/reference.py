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
