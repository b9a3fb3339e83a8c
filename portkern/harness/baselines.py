"""What every vendor-library baseline shares: the BLAS families, the result, and PyTorch's routines.

Each backend times its own vendor library inside the device worker (``Runner.baseline``):
``backends/cuda/baseline.py`` (cuBLAS through CuPy, else PyTorch's CUDA build),
``backends/hip/baseline.py`` (rocBLAS through PyTorch's ROCm build). PyTorch calls whichever vendor
library it was built for, so its routines live here once. A family without a baseline gives None;
a baseline that fails says why in its name.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

BLAS_FAMILIES = ("axpy", "scal", "copy", "dot", "nrm2", "asum", "iamax", "gemv_n", "gemv_t", "ger", "gemm",
                 "trsv_lower", "trsv_upper")


def baseline_family(family: str, kernel_name: str) -> str:
    """The vendor routine a kernel is timed beside: its family; for a triangular solve, the triangle its
    name says (``trsv_upper``; lower otherwise); for a matrix-vector product, the operation its name says
    (``gemv_t``, ``..._t_batched``: y = A^T x; ``gemv_n`` otherwise), on column-major A as BLAS stores it."""
    if family == "trsv":
        return "trsv_upper" if "upper" in kernel_name.lower() else "trsv_lower"
    if family == "gemv":
        return "gemv_t" if re.search(r"(?:^|_)t(?:_|$)|trans", kernel_name.lower()) else "gemv_n"
    return family


def triangular_system(xp: Any, n: int, dtype: Any, upper: bool, seed: int = 2) -> Any:
    """An n x n triangular matrix (numpy or CuPy; the other triangle zero) whose solves keep a right-hand
    side's size: unit diagonal, the rest of the triangle uniform in [-1, 1) / n^2, so a baseline can solve
    in place trial after trial without its values growing or vanishing (its time does not depend on them)."""
    rng = xp.random.default_rng(seed)
    off = (rng.random((n, n), dtype=xp.float32) * 2.0 - 1.0) / float(n) / float(n)
    a = (xp.triu(off, 1) if upper else xp.tril(off, -1)) + xp.eye(n, dtype=xp.float32)
    return a.astype(dtype)


@dataclass
class BaselineTiming:
    name: str
    median_ms: float
    spread_ms: float


def dim(sizes: dict[str, int], *names: str, default: int = 1) -> int:
    for n in names:
        if n in sizes:
            return int(sizes[n])
    return default


def torch_op(torch: Any, family: str, sizes: dict[str, int], dtype: str) -> tuple[str, Callable[[], Any]] | None:
    dt = getattr(torch, dtype)
    dev = "cuda"
    batch = dim(sizes, "batch_count", "batch", "B")
    gen = torch.Generator(device=dev).manual_seed(1)

    def t(*shape: int):
        return torch.randn(*shape, device=dev, dtype=dt, generator=gen)

    lib = "rocBLAS" if getattr(torch.version, "hip", None) else "cuBLAS"
    if family in ("axpy", "scal", "copy", "dot", "nrm2", "asum", "iamax"):
        n = dim(sizes, "n", "N") * batch
        x, y = t(n), t(n)
        ops = {"axpy": lambda: y.add_(x, alpha=0.5), "scal": lambda: x.mul_(0.5), "copy": lambda: y.copy_(x),
               "dot": lambda: torch.dot(x, y),
               "nrm2": lambda: torch.linalg.vector_norm(x), "asum": lambda: x.abs().sum(),
               "iamax": lambda: x.abs().argmax()}
        return f"{lib} {family} (PyTorch)", ops[family]
    if family in ("gemv_n", "gemv_t"):
        m, n = dim(sizes, "m", "M"), dim(sizes, "n", "N")
        op = family[-1].upper()
        if batch > 1:
            a = t(batch, n, m).transpose(1, 2)              # column-major m x n matrices
            a = a if op == "N" else a.transpose(1, 2)
            x = t(batch, n if op == "N" else m, 1)
            return f"{lib} batched gemv {op} (PyTorch bmm)", lambda: torch.bmm(a, x)
        a = t(n, m).t()                                     # column-major m x n
        a = a if op == "N" else a.t()
        x = t(n if op == "N" else m)
        return f"{lib} gemv {op} (PyTorch mv)", lambda: torch.mv(a, x)
    if family == "ger":
        m, n = dim(sizes, "m", "M"), dim(sizes, "n", "N")
        if batch > 1:
            # one strided-batched gemm with k = 1 accumulating into a (beta = 1)
            a, x, y = t(batch, m, n), t(batch, m, 1), t(batch, 1, n)
            return f"{lib} batched ger (PyTorch baddbmm)", lambda: a.baddbmm_(x, y)
        a, x, y = t(m, n), t(m), t(n)
        return f"{lib} ger (PyTorch addr)", lambda: a.addr_(x, y)
    if family == "gemm":
        m, n, k = dim(sizes, "m", "M"), dim(sizes, "n", "N"), dim(sizes, "k", "K")
        a, b = t(batch, m, k), t(batch, k, n)
        return f"{lib} gemm (PyTorch bmm)", lambda: torch.bmm(a, b)
    if family in ("trsv_lower", "trsv_upper"):
        n = dim(sizes, "n", "N")
        upper = family == "trsv_upper"
        gen_a = torch.Generator(device=dev).manual_seed(2)
        off = (torch.rand(n, n, device=dev, generator=gen_a) * 2.0 - 1.0) / float(n) / float(n)
        a = ((torch.triu(off, 1) if upper else torch.tril(off, -1)) + torch.eye(n, device=dev)).to(dt)
        x = t(n, 1)
        return (f"{lib} triangular solve (PyTorch solve_triangular, one right-hand side)",
                lambda: torch.linalg.solve_triangular(a, x, upper=upper))
    return None


def time_torch(torch: Any, family: str, sizes: dict[str, int], dtype: str, *, trials: int, warmup: int,
               flush_bytes: int) -> BaselineTiming | None:
    """PyTorch's routine for ``family`` on the current GPU, timed with CUDA/HIP events, L2 emptied by
    a read of twice its size before each trial."""
    if family not in BLAS_FAMILIES or not torch.cuda.is_available():
        return None
    made = torch_op(torch, family, sizes, dtype)
    if made is None:
        return None
    name, op = made
    flush = torch.empty(flush_bytes, dtype=torch.uint8, device="cuda")
    events = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(trials)]
    for _ in range(warmup):
        op()
    for start, end in events:
        flush.max()                # read twice the cache: emptied, and clean, as before a candidate's trial
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
