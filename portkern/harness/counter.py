"""A counter-based random generator that gives the same bits on numpy and on CuPy.

Element ``i`` of stream ``stream`` under seed ``seed`` is a pure function of (seed, stream, i): a
SplitMix64-style finaliser (xor-shifts and multiplications modulo 2^64) of the counter, keyed by a
hash of the seed and the stream. Nothing depends on the order in which elements are drawn, so an
array can be filled in chunks, on several threads or on the device, and the values stay the same.

Every function takes the array namespace ``xp`` (numpy or cupy) and uses only its integer ops
(uint64 add, multiply, shift, xor, modulo) and IEEE operations that are correctly rounded on every
device (int -> float conversion, add, subtract, multiply, divide, ldexp, casts): no transcendental
function, no reduction whose order could change a rounding. Hence the bit-for-bit equality: the
emulator on the host and a GPU check the very same inputs.

Distributions: ``uniform`` (53 random bits), ``normal`` (Irwin-Hall sum of four 32-bit uniforms,
scaled to unit variance: bounded by +-2*sqrt(3), close enough to a Gaussian for test inputs and
exactly reproducible), ``log_uniform`` (a random power of two times a uniform mantissa), ``integers``.
"""

from __future__ import annotations

import zlib
from typing import Any

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
_MIX3 = 0xD6E8FEB86659FD93
_MASK64 = (1 << 64) - 1
SQRT3 = 1.7320508075688772  # sqrt(3): the Irwin-Hall sum of 4 uniforms has variance 1/3


def _mix_int(z: int) -> int:
    """SplitMix64's finaliser on a Python int (keys are derived on the host)."""
    z &= _MASK64
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
    return z ^ (z >> 31)


def stream_id(*parts: Any) -> int:
    """A 64-bit stream number from names and integers, e.g. stream_id("x", batch, "values")."""
    z = 0x5EED
    for part in parts:
        data = part if isinstance(part, int) else zlib.crc32(str(part).encode("utf-8"))
        z = _mix_int(z * _GOLDEN + (data & _MASK64) + 1)
    return z


def key(seed: int, stream: int) -> int:
    """The 64-bit key of (seed, stream): distinct streams of one seed are unrelated sequences."""
    return _mix_int(_mix_int(seed & _MASK64) ^ _mix_int((stream + _GOLDEN) & _MASK64))


def bits(xp: Any, seed: int, stream: int | list[int], start: int, count: int) -> Any:
    """uint64 array: the random words of elements start .. start+count-1 of (seed, stream). With a list
    of streams, one row per stream (shape [len(stream), count]): row r holds exactly what ``stream[r]``
    alone gives, computed in one pass (on a GPU, one launch per operation instead of one per stream)."""
    u64 = xp.uint64
    z = xp.arange(start, start + count, dtype=u64)
    z *= u64(_GOLDEN)                       # wraps modulo 2^64 on both namespaces
    if isinstance(stream, (list, tuple)):
        keys = xp.asarray([key(seed, s) for s in stream], dtype=u64)
        z = z[None, :] + keys[:, None]
    else:
        z += u64(key(seed, stream))
    z ^= z >> u64(30)
    z *= u64(_MIX1)
    z ^= z >> u64(27)
    z *= u64(_MIX2)
    z ^= z >> u64(31)
    return z


def uniform(xp: Any, seed: int, stream: int, start: int, count: int) -> Any:
    """float64 on [0, 1): the top 53 bits of each word, exact."""
    words = bits(xp, seed, stream, start, count) >> xp.uint64(11)
    out = words.astype(xp.float64)
    out *= 2.0 ** -53
    return out


def normal(xp: Any, seed: int, stream: int, start: int, count: int) -> Any:
    """float64 with mean 0 and variance 1 (Irwin-Hall of four 32-bit uniforms), |v| < 2*sqrt(3).

    The four uniforms are the halves of the element's word and of one more mixing round of it. Each
    is an exact float64 (32 bits), so is their sum (34 bits) and the shift by 2; the scale by sqrt(3)
    is one correctly rounded multiplication.
    """
    u64 = xp.uint64
    low32 = u64(0xFFFFFFFF)
    words = bits(xp, seed, stream, start, count)
    total = (words >> u64(32)).astype(xp.float64)
    total += (words & low32).astype(xp.float64)
    words ^= words >> u64(29)
    words *= u64(_MIX3)
    words ^= words >> u64(32)
    total += (words >> u64(32)).astype(xp.float64)
    total += (words & low32).astype(xp.float64)
    total *= 2.0 ** -32
    total -= 2.0
    total *= SQRT3
    return total


def integers(xp: Any, seed: int, stream: int, start: int, count: int, low: int, high: int) -> Any:
    """int64 on [low, high) (modulo reduction of 64-bit words: bias below 2^-40 for spans < 2^24)."""
    span = high - low
    if span <= 0:
        raise ValueError(f"integers needs high > low, got [{low}, {high})")
    words = bits(xp, seed, stream, start, count) % xp.uint64(span)
    return words.astype(xp.int64) + low


def log_uniform(xp: Any, seed: int, stream: int, start: int, count: int, max_exponent: int) -> Any:
    """float64 magnitudes in [2^-k, 2^k) with a random sign: 2^e * m, e uniform on [-k, k), m on [1, 2)."""
    words = bits(xp, seed, stream, start, count)
    exponent = (words % xp.uint64(2 * max_exponent)).astype(xp.int64) - max_exponent
    mantissa = (words >> xp.uint64(12)).astype(xp.float64)      # 52 bits, exact
    mantissa *= 2.0 ** -52
    mantissa += 1.0
    out = xp.ldexp(mantissa, exponent.astype(xp.int32))
    negative = (words & xp.uint64(1 << 11)) != xp.uint64(0)
    return xp.where(negative, -out, out)


def permutation(xp: Any, seed: int, stream: int, count: int) -> Any:
    """int64 permutation of 0 .. count-1: the order of distinct random keys (any sort agrees)."""
    if count >= 1 << 32:
        raise ValueError("permutation supports fewer than 2^32 elements")
    keys = bits(xp, seed, stream, 0, count) & xp.uint64(((1 << 32) - 1) << 32)
    keys |= xp.arange(count, dtype=xp.uint64)   # the index breaks ties: every key is distinct
    return xp.argsort(keys).astype(xp.int64)
