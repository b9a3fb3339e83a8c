"""float64 reference implementations of the nn library's kernels, for any array namespace.

Arrays arrive flat and row-major as the kernels see them, in float64 (integer arrays as int64), as
arrays of the namespace ``xp`` (numpy on the host, CuPy on a GPU; only ``xp.`` functions are used);
scalars as floats; sizes as ints.

Outputs whose rounding error is not proportional to their own size (sums that cancel, 1 + tanh near
-1) also return, under MAGNITUDES, the size of the quantities they are computed from.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

Args = dict[str, Any]
Result = dict[str, Any]
MAGNITUDES = "__magnitudes__"   # portkern.harness.references.MAGNITUDES

GELU_SCALING = math.sqrt(2.0 / math.pi)


def _vec(xp: Any, v: Any, count: int) -> Any:
    return xp.asarray(v, dtype=xp.float64)[:count]


def gelu_forward(args: Args, dtype: str, xp: Any = np) -> Result:
    x = _vec(xp, args["inp"], args["N"])
    t = xp.tanh(GELU_SCALING * (x + 0.044715 * x**3))
    # For large negative x, 1 + tanh cancels: the error of a correct kernel is relative to |x|.
    return {"out": 0.5 * x * (1.0 + t), MAGNITUDES: {"out": 0.5 * xp.abs(x) * (1.0 + xp.abs(t))}}


def gelu_backward(args: Args, dtype: str, xp: Any = np) -> Result:
    n = args["N"]
    x = _vec(xp, args["inp"], n)
    dout = _vec(xp, args["dout"], n)
    u = GELU_SCALING * (x + 0.044715 * x**3)
    t = xp.tanh(u)
    du_dx = GELU_SCALING * (1.0 + 3.0 * 0.044715 * x**2)
    local_grad = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t**2) * du_dx
    terms = 0.5 * (1.0 + xp.abs(t)) + 0.5 * xp.abs(x) * (1.0 + t**2) * du_dx
    return {"dinp": local_grad * dout, MAGNITUDES: {"dinp": terms * xp.abs(dout)}}


def residual_forward(args: Args, dtype: str, xp: Any = np) -> Result:
    n = args["N"]
    a, b = _vec(xp, args["inp1"], n), _vec(xp, args["inp2"], n)
    return {"out": a + b, MAGNITUDES: {"out": xp.abs(a) + xp.abs(b)}}


def layernorm_forward(args: Args, dtype: str, xp: Any = np) -> Result:
    n, c = args["N"], args["C"]
    x = _vec(xp, args["inp"], n * c).reshape(n, c)
    weight, bias = _vec(xp, args["weight"], c), _vec(xp, args["bias"], c)
    mean = x.mean(axis=1)
    centred = x - mean[:, None]
    var = (centred**2).mean(axis=1)
    rstd = 1.0 / xp.sqrt(var + 1e-5)
    normed = centred * rstd[:, None] * weight
    # The mean is a sum of terms of the size of |x|; x - mean cancels where x is close to it.
    magnitude = (xp.abs(x) + xp.abs(mean)[:, None]) * rstd[:, None] * xp.abs(weight) + xp.abs(bias)
    return {"out": (normed + bias).reshape(-1), "mean": mean, "rstd": rstd,
            MAGNITUDES: {"out": magnitude.reshape(-1), "mean": xp.abs(x).mean(axis=1)}}


def softmax_forward(args: Args, dtype: str, xp: Any = np) -> Result:
    n, c = args["N"], args["C"]
    x = _vec(xp, args["inp"], n * c).reshape(n, c)
    e = xp.exp(x - x.max(axis=1, keepdims=True))
    return {"out": (e / e.sum(axis=1, keepdims=True)).reshape(-1)}


def matmul_forward(args: Args, dtype: str, xp: Any = np) -> Result:
    n, c, oc = args["N"], args["C"], args["OC"]
    inp = _vec(xp, args["inp"], n * c).reshape(n, c)
    weight = _vec(xp, args["weight"], oc * c).reshape(oc, c)
    bias = _vec(xp, args["bias"], oc)
    out = inp @ weight.T + bias
    magnitude = xp.abs(inp) @ xp.abs(weight).T + xp.abs(bias)
    return {"out": out.reshape(-1), MAGNITUDES: {"out": magnitude.reshape(-1)}}


def reduce_sum_count(args: Args, dtype: str, xp: Any = np) -> Result:
    x = _vec(xp, args["inp"], args["N"])
    threshold = float(args["threshold"])
    return {"out_sum": xp.reshape(xp.sum(x), (1,)),
            "out_count": xp.reshape(xp.count_nonzero(xp.abs(x) > threshold), (1,)).astype(xp.int64),
            MAGNITUDES: {"out_sum": xp.reshape(xp.sum(xp.abs(x)), (1,))}}


def transpose(args: Args, dtype: str, xp: Any = np) -> Result:
    rows, cols = args["rows"], args["cols"]
    x = _vec(xp, args["inp"], rows * cols).reshape(rows, cols)
    return {"out": xp.ascontiguousarray(x.T).reshape(-1)}


def crossentropy_forward(args: Args, dtype: str, xp: Any = np) -> Result:
    n, v = args["N"], args["V"]
    probs = _vec(xp, args["probs"], n * v).reshape(n, v)
    targets = xp.asarray(args["targets"]).astype(xp.int64)[:n]
    return {"losses": -xp.log(probs[xp.arange(n), targets])}
