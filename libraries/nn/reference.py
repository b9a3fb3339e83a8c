"""float64 reference implementations of the nn library's kernels.

Arrays arrive flat and row-major as the kernels see them, in float64 (integer arrays as int64);
scalars as floats; sizes as ints.
"""

from __future__ import annotations

from typing import Any

import numpy as np

Args = dict[str, Any]
Result = dict[str, np.ndarray]

GELU_SCALING = np.sqrt(2.0 / np.pi)


def gelu_forward(args: Args, dtype: str) -> Result:
    x = np.asarray(args["inp"], dtype=np.float64)[: args["N"]]
    return {"out": 0.5 * x * (1.0 + np.tanh(GELU_SCALING * (x + 0.044715 * x**3)))}


def gelu_backward(args: Args, dtype: str) -> Result:
    n = args["N"]
    x = np.asarray(args["inp"], dtype=np.float64)[:n]
    u = GELU_SCALING * (x + 0.044715 * x**3)
    t = np.tanh(u)
    du_dx = GELU_SCALING * (1.0 + 3.0 * 0.044715 * x**2)
    local_grad = 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t**2) * du_dx
    return {"dinp": local_grad * np.asarray(args["dout"], dtype=np.float64)[:n]}


def residual_forward(args: Args, dtype: str) -> Result:
    n = args["N"]
    return {"out": np.asarray(args["inp1"], dtype=np.float64)[:n] + np.asarray(args["inp2"], dtype=np.float64)[:n]}


def layernorm_forward(args: Args, dtype: str) -> Result:
    n, c = args["N"], args["C"]
    x = np.asarray(args["inp"], dtype=np.float64)[: n * c].reshape(n, c)
    mean = x.mean(axis=1)
    var = ((x - mean[:, None]) ** 2).mean(axis=1)
    rstd = 1.0 / np.sqrt(var + 1e-5)
    out = (x - mean[:, None]) * rstd[:, None] * args["weight"][:c] + args["bias"][:c]
    return {"out": out.reshape(-1), "mean": mean, "rstd": rstd}


def softmax_forward(args: Args, dtype: str) -> Result:
    n, c = args["N"], args["C"]
    x = np.asarray(args["inp"], dtype=np.float64)[: n * c].reshape(n, c)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return {"out": (e / e.sum(axis=1, keepdims=True)).reshape(-1)}


def matmul_forward(args: Args, dtype: str) -> Result:
    n, c, oc = args["N"], args["C"], args["OC"]
    inp = np.asarray(args["inp"], dtype=np.float64)[: n * c].reshape(n, c)
    weight = np.asarray(args["weight"], dtype=np.float64)[: oc * c].reshape(oc, c)
    out = inp @ weight.T + np.asarray(args["bias"], dtype=np.float64)[:oc]
    return {"out": out.reshape(-1)}


def reduce_sum_count(args: Args, dtype: str) -> Result:
    x = np.asarray(args["inp"], dtype=np.float64)[: args["N"]]
    threshold = float(args["threshold"])
    return {"out_sum": np.array([float(np.sum(x))]),
            "out_count": np.array([int(np.count_nonzero(np.abs(x) > threshold))], dtype=np.int64)}


def transpose(args: Args, dtype: str) -> Result:
    rows, cols = args["rows"], args["cols"]
    x = np.asarray(args["inp"], dtype=np.float64)[: rows * cols].reshape(rows, cols)
    return {"out": np.ascontiguousarray(x.T).reshape(-1)}


def crossentropy_forward(args: Args, dtype: str) -> Result:
    n, v = args["N"], args["V"]
    probs = np.asarray(args["probs"], dtype=np.float64)[: n * v].reshape(n, v)
    targets = np.asarray(args["targets"]).astype(np.int64)[:n]
    return {"losses": -np.log(probs[np.arange(n), targets])}
