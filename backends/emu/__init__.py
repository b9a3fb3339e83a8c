"""CPU emulator backend: runs CUDA and HIP device code on the CPU with a warp width of 32 or 64.

The device API comes from a header-only C++17 runtime (``include/``); a kernel unit plus generated
launch stubs is built into a shared library with g++ or clang++ and launched through ctypes.
"""

from __future__ import annotations

from .backend import EmuBackend, EmuProgram

BACKEND = EmuBackend()

__all__ = ["BACKEND", "EmuBackend", "EmuProgram"]
