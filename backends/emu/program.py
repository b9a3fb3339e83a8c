"""A loaded emulator kernel: numpy arrays and numpy scalars in, a synchronous CPU launch out."""

from __future__ import annotations

import ctypes
import time
from typing import Any

import numpy as np
from portkern.backends.base import Program
from portkern.backends.emu.source import RELEASE_SYMBOL

from portkern.errors import LaunchError

_ERROR_BYTES = 4096

# Signature token kind letters (see launch.h): p pointer, f floating, i signed, u unsigned, s other.
_KIND_NAMES = {"p": "pointer", "f": "floating-point", "i": "signed integer", "u": "unsigned integer",
               "s": "struct"}


def _dims(value: Any, what: str, kernel: str) -> tuple[int, int, int]:
    dims = (int(value),) if np.isscalar(value) else tuple(int(v) for v in value)
    if not 1 <= len(dims) <= 3 or any(d < 0 for d in dims):
        raise LaunchError(f"kernel '{kernel}': {what} must be 1 to 3 non-negative sizes, got {value!r}")
    return dims + (1,) * (3 - len(dims))


class EmuProgram(Program):
    def __init__(self, library: ctypes.CDLL, symbol: str, signature_symbol: str, entry: str):
        self.symbol = symbol
        self.entry = entry
        self._launch = getattr(library, symbol)
        self._launch.restype = ctypes.c_int
        self._launch.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_uint),
                                 ctypes.POINTER(ctypes.c_uint), ctypes.c_ulonglong, ctypes.c_char_p,
                                 ctypes.c_ulonglong]
        sig = getattr(library, signature_symbol)
        sig.restype = ctypes.c_char_p
        text = sig().decode()
        self.params: list[tuple[str, int]] = [(tok[0], int(tok[1:])) for tok in text.split(",") if tok]
        # Builds made before the release stub existed have none.
        release = getattr(library, RELEASE_SYMBOL, None)
        if release is not None:
            release.restype = None
            release.argtypes = []
        self._release = release

    def release(self) -> None:
        """Free the fiber stacks the build keeps between launches (every entry of the build shares them)."""
        if self._release is not None:
            self._release()

    def _marshal(self, index: int, kind: str, size: int, value: Any) -> tuple[ctypes._SimpleCData | ctypes.Array, Any]:
        where = f"kernel '{self.entry}': argument {index}"
        if kind == "p":
            if value is None:
                return ctypes.c_void_p(0), None
            if isinstance(value, np.ndarray):
                if not value.flags["C_CONTIGUOUS"]:
                    raise LaunchError(f"{where} is a non-contiguous array view",
                                      hint="pass np.ascontiguousarray(...) so the kernel sees the elements in order")
                return ctypes.c_void_p(value.ctypes.data), value
            raise LaunchError(f"{where} is a pointer parameter but got {type(value).__name__}",
                              hint="pass a numpy array (its memory is what the kernel reads and writes)")
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        if not isinstance(value, np.generic):
            raise LaunchError(f"{where} is a by-value {_KIND_NAMES[kind]} parameter of {size} bytes but got "
                              f"a Python {type(value).__name__}",
                              hint=f"pass a numpy scalar of the exact C type, e.g. np.{self._suggest(kind, size)}(...)")
        got = value.dtype
        ok = got.itemsize == size and (
            (kind == "f" and got.kind == "f")
            or (kind == "i" and got.kind == "i")
            or (kind == "u" and got.kind in "ub")
            or kind == "s")
        if not ok:
            raise LaunchError(f"{where} is a {size}-byte {_KIND_NAMES[kind]} parameter but got np.{got.name}",
                              hint=f"pass np.{self._suggest(kind, size)}(...)")
        return ctypes.create_string_buffer(value.tobytes(), size), None

    @staticmethod
    def _suggest(kind: str, size: int) -> str:
        return {("f", 4): "float32", ("f", 8): "float64", ("i", 4): "int32", ("i", 8): "int64", ("u", 4): "uint32",
                ("u", 8): "uint64", ("i", 2): "int16", ("u", 2): "uint16", ("i", 1): "int8", ("u", 1): "uint8",
                ("s", 2): "float16"}.get((kind, size), f"void{size}")

    def __call__(self, *args: Any, grid=(1, 1, 1), block=(1, 1, 1), shared_bytes: int = 0,
                 wait: bool = False) -> float | None:
        if len(args) != len(self.params):
            raise LaunchError(f"kernel '{self.entry}' takes {len(self.params)} arguments, got {len(args)}")
        keep: list[Any] = []
        slots = (ctypes.c_void_p * max(1, len(args)))()
        for i, ((kind, size), value) in enumerate(zip(self.params, args)):
            storage, owner = self._marshal(i, kind, size, value)
            keep.append((storage, owner))
            slots[i] = ctypes.addressof(storage)
        g = (ctypes.c_uint * 3)(*_dims(grid, "grid", self.entry))
        b = (ctypes.c_uint * 3)(*_dims(block, "block", self.entry))
        err = ctypes.create_string_buffer(_ERROR_BYTES)
        start = time.perf_counter()
        rc = self._launch(slots, g, b, int(shared_bytes), err, _ERROR_BYTES)
        elapsed = time.perf_counter() - start
        if rc != 0:
            raise LaunchError(err.value.decode(errors="replace") or f"kernel '{self.entry}' failed to launch")
        return elapsed if wait else None
