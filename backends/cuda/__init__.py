"""NVIDIA compile backend (nvcc); see :mod:`portkern.backends.cuda.nvcc`."""

from __future__ import annotations

from portkern.backends.cuda.nvcc import CudaBackend

BACKEND = CudaBackend()

__all__ = ["BACKEND", "CudaBackend"]
