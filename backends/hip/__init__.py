"""AMD compile backend (clang's HIP toolchain); see :mod:`portkern.backends.hip.clang`."""

from __future__ import annotations

from portkern.backends.hip.clang import HipBackend

BACKEND = HipBackend()

__all__ = ["BACKEND", "HipBackend"]
