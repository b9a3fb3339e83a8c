"""Keyed digests of buffers, so that read-only arguments need not cross the worker's pipe.

A timing worker reports what every checked run left in its buffers. The outputs must come back
whole (they are compared with a tolerance), but an input must only be unchanged, bit for bit,
guard zones included. For those the worker sends a digest: a keyed linear checksum of the buffer's
32-bit words, computed where the buffer lives (on the GPU through CuPy), and the caller computes the
same digest of the inputs it rebuilt from the seed. The key is drawn by the caller for each job and
only ever sits in host memory and kernel arguments of this code, so a kernel cannot aim a change at
a collision.

The digest is two sums, modulo 2**64, of word * weight, with weights from a counter-based mix of
the key and the word's index (splitmix64): both halves are exact integer arithmetic and give the
same value in numpy and CuPy. A changed single word always changes a half whose weight is not zero
(each product is below 2**64); any other change is missed with probability about 2**-64 per half.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from portkern.harness.inputs import array_module

_CHUNK = 1 << 24        # words per pass: bounds the temporaries (128 MiB of uint64 each)
_U64 = np.uint64


def _mix(z: Any) -> Any:
    """splitmix64's finaliser, element-wise on uint64 (wrapping arithmetic)."""
    z = z * _U64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> _U64(30))) * _U64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> _U64(27))) * _U64(0x94D049BB133111EB)
    return z ^ (z >> _U64(31))


def keyed_digest(buffer: Any, key: int) -> str:
    """The digest of ``buffer``'s bytes (any dtype, numpy or CuPy, contiguous) under ``key``."""
    xp = array_module(buffer)
    raw = xp.ascontiguousarray(buffer).reshape(-1).view(xp.uint8)
    nbytes = int(raw.size)
    if nbytes % 4:
        raw = xp.concatenate([raw, xp.zeros(4 - nbytes % 4, dtype=xp.uint8)])
    words = raw.view(xp.uint32)
    salt = _U64(key & 0xFFFFFFFFFFFFFFFF)
    high = low = 0
    with np.errstate(over="ignore"):
        for start in range(0, int(words.size), _CHUNK):
            part = words[start:start + _CHUNK].astype(xp.uint64)
            weights = _mix(xp.arange(start, start + int(part.size), dtype=xp.uint64) ^ salt)
            high += int((part * (weights >> _U64(32))).sum(dtype=xp.uint64))
            low += int((part * (weights & _U64(0xFFFFFFFF))).sum(dtype=xp.uint64))
    return f"{nbytes}:{high % (1 << 64):016x}{low % (1 << 64):016x}"


def device_digest(pointer: int, nbytes: int, key: int) -> str:
    """The digest of ``nbytes`` of device memory at ``pointer`` (this process's current CUDA context),
    computed on the GPU through CuPy: nothing crosses to the host but the sums."""
    import cupy

    if nbytes == 0:
        return keyed_digest(np.zeros(0, dtype=np.uint8), key)
    memory = cupy.cuda.UnownedMemory(int(pointer), int(nbytes), None)
    view = cupy.ndarray((int(nbytes),), dtype=cupy.uint8, memptr=cupy.cuda.MemoryPointer(memory, 0))
    return keyed_digest(view, key)


def digested_args(case: Any) -> list[str]:
    """The arguments of ``case`` a worker reports by digest: read-only device arrays."""
    return [name for name, arg in case.arrays.items() if arg.role == "input" and not arg.pointer_scalar]
