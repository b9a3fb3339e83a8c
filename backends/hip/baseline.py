"""The AMD baseline: rocBLAS (or hipBLASLt) through PyTorch's ROCm build, timed inside the device worker."""

from __future__ import annotations

import importlib

from portkern.harness.baselines import BaselineTiming, time_torch


def time_rocblas(family: str, sizes: dict[str, int], dtype: str, *, trials: int, warmup: int,
                 flush_bytes: int) -> BaselineTiming | None:
    """Median and IQR (ms) of rocBLAS's routine for this family; None without a ROCm build of PyTorch."""
    try:
        torch = importlib.import_module("torch")
    except ImportError:   # PyTorch is optional: no baseline then
        return None
    if not getattr(torch.version, "hip", None):
        return None       # a CUDA build of PyTorch would time cuBLAS, not the AMD library
    return time_torch(torch, family, sizes, dtype, trials=trials, warmup=warmup, flush_bytes=flush_bytes)
