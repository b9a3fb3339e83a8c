"""Seeded inputs for one validation or timing case, laid out the way a kernel sees them.

A case is built from a KernelSpec: every array argument gets a storage buffer (the element type
the kernel reads, padded with a guard zone that must stay untouched), a float64 / int64 view for
the reference (contract 2), and outputs are filled with a poison pattern that a kernel must
overwrite. The "tiny" and "huge" variants scale float inputs far from 1 so a kernel that only
works at unit scale (or in a narrower type) is caught; "zeros", "sparse" and "structured" give
all-zero, partly zero and small-integer inputs. The poison of a case (a quiet NaN with a random
payload or, for 32- and 64-bit floats, a plain finite value) and the random bytes of its guard zones
come from its seed, so a kernel cannot learn them from one case and use them in the next.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from portkern import expr
from portkern.errors import ConfigError, ManifestError
from portkern.harness import counter
from portkern.library import DTYPE_BYTES, KernelSpec, instantiate, kernel_env

# Elements after every buffer (and between strided batches) that a kernel must never write.
GUARD_ELEMENTS = 256
# Distribution variants cycled over cases; scale factors are per dtype (see _variant_scale).
VARIANTS = ("standard", "wide", "tiny", "huge", "zeros", "sparse", "structured")
# Variants whose inputs may make a routine undefined (a zero pivot): a NaN reference skips the case.
ZERO_VARIANTS = ("zeros", "sparse", "structured")
# Inits the value variants (zeros, sparse, structured) rewrite; structured inits keep their shape.
_VALUE_INITS = ("normal", "uniform")
# Quiet-NaN payloads that mark "never written"; a kernel producing NaN by arithmetic rarely makes them.
POISON_BITS = {"float16": 0x7E5A, "bfloat16": 0x7FDA, "float32": 0x7FDEAD5A, "float64": 0x7FFDEAD5A5A5A5A5}
INT_SENTINEL = {"int32": -1163005939, "int64": -4995072469926809587, "uint32": 0xBAADF00D,
                "uint64": 0xBAADF00DDEADBEEF, "int8": -91, "uint8": 0xA5}
_STORAGE = {"float16": np.float16, "bfloat16": np.uint16, "float32": np.float32, "float64": np.float64,
            "int32": np.int32, "int64": np.int64, "uint32": np.uint32, "uint64": np.uint64, "int8": np.int8,
            "uint8": np.uint8}
_BITS_VIEW = {"float16": np.uint16, "bfloat16": np.uint16, "float32": np.uint32, "float64": np.uint64}
# Random inputs come from a counter-based generator (portkern.harness.counter): element i of an
# argument is a function of (seed, argument, batch, i) alone, the same on numpy and CuPy. Large arrays
# fill in chunks of this many elements on several threads (numpy's ufuncs release the GIL).
CHUNK_ELEMENTS = 1 << 20
# Elements generated at once inside a chunk: temporaries of 64-bit words that fit in a core's cache.
_CACHE_BLOCK = 1 << 15
# Inits filled chunk by chunk straight into the storage buffer (see _fill_fast).
FAST_INITS = ("normal", "uniform")


def is_float(dtype: str) -> bool:
    return dtype in ("float16", "bfloat16", "float32", "float64")


def resolve_dtype(arg_dtype: str, kernel_dtype: str, role: str) -> str:
    if arg_dtype != "T":
        return arg_dtype
    # Sizes, strides and batch counts declared without a type are C ints.
    return "int32" if role in ("size", "stride", "batch") else kernel_dtype


# --------------------------------------------------------------------------- conversions


def array_module(array: Any) -> Any:
    """The namespace an array belongs to: numpy, or CuPy for a device array (no import of CuPy here:
    a CuPy array can only exist once CuPy is loaded)."""
    if isinstance(array, np.ndarray) or not hasattr(array, "__cuda_array_interface__"):
        return np
    import cupy

    return cupy


def to_storage(values64: Any, dtype: str, xp: Any = np) -> Any:
    """float64/int64 values -> the kernel's storage type (bfloat16 as round-to-nearest-even bits)."""
    if dtype == "bfloat16":
        f32 = xp.asarray(values64, dtype=xp.float32)
        bits = f32.view(xp.uint32).astype(xp.uint64)
        rounded = (bits + xp.uint64(0x7FFF) + ((bits >> xp.uint64(16)) & xp.uint64(1))) >> xp.uint64(16)
        return rounded.astype(xp.uint16)
    return xp.asarray(values64).astype(_STORAGE[dtype])


def from_storage(stored: Any, dtype: str) -> Any:
    """Storage -> float64 (floats) or int64 (integers), the reference's view (in ``stored``'s namespace)."""
    xp = array_module(stored)
    if dtype == "bfloat16":
        return (stored.astype(xp.uint32) << xp.uint32(16)).view(xp.float32).astype(xp.float64)
    if is_float(dtype):
        return stored.astype(xp.float64)
    return stored.astype(xp.int64)


def poison_value(dtype: str, poison_seed: int | None = None) -> np.ndarray:
    """The poison of one case as a 1-element storage array (the fixed pattern when no seed is given)."""
    if poison_seed is None:
        if is_float(dtype):
            return np.array([POISON_BITS[dtype]], dtype=_BITS_VIEW[dtype]).view(_STORAGE[dtype])
        return np.array([INT_SENTINEL[dtype]]).astype(_STORAGE[dtype])
    rng = np.random.default_rng([poison_seed, sum(dtype.encode())])
    if dtype in ("float32", "float64") and rng.random() < 0.5:
        # A plain finite value far from typical results: an unwritten element shows as a wrong value.
        value = float(rng.choice([-1.0, 1.0]) * rng.uniform(1.5, 9.5) * 2.0 ** int(rng.integers(-24, 24)))
        return np.array([value], dtype=_STORAGE[dtype])
    if is_float(dtype):
        bits_type = _BITS_VIEW[dtype]
        width = np.dtype(bits_type).itemsize * 8
        mantissa = {"float16": 10, "bfloat16": 7, "float32": 23, "float64": 52}[dtype]
        exponent_and_quiet = ((1 << (width - 1 - mantissa)) - 1) << mantissa | (1 << (mantissa - 1))
        payload = int(rng.integers(1, 1 << (mantissa - 1)))
        sign = int(rng.integers(0, 2)) << (width - 1)
        return np.array([sign | exponent_and_quiet | payload], dtype=bits_type).view(_STORAGE[dtype])
    info = np.iinfo(_STORAGE[dtype])
    if info.bits <= 8:
        return np.array([INT_SENTINEL[dtype]]).astype(_STORAGE[dtype])
    # Far from the small integers (indices, counts) kernels write.
    low = max(int(info.min), -(1 << (info.bits - 2)))
    value = int(rng.integers(1 << (info.bits - 3), 1 << (info.bits - 2)))
    if info.min < 0 and rng.random() < 0.5:
        value = low + (value - (1 << (info.bits - 3)))
    return np.array([value]).astype(_STORAGE[dtype])


def poison_array(count: int, dtype: str, poison_seed: int | None = None, xp: Any = np) -> Any:
    pattern = poison_value(dtype, poison_seed)
    if xp is np:
        return np.repeat(pattern, count)
    # Filled through the bit pattern: a NaN payload survives whatever the namespace does with floats.
    bits_type = _BITS_VIEW.get(dtype, _STORAGE[dtype])
    return xp.full(count, pattern.view(bits_type)[0], dtype=bits_type).view(_STORAGE[dtype])


def poison_mask(stored: Any, dtype: str, poison_seed: int | None = None) -> Any:
    """True where an element still holds the case's poison bit for bit."""
    pattern = poison_value(dtype, poison_seed)
    if is_float(dtype):
        return stored.view(_BITS_VIEW[dtype]) == pattern.view(_BITS_VIEW[dtype])[0]
    return stored == pattern[0]


def guard_fill(count: int, dtype: str, seed: int, stream: int, xp: Any = np) -> Any:
    """Random bytes for a guard zone: nothing a kernel could recognise as the harness's marker."""
    itemsize = np.dtype(_STORAGE[dtype]).itemsize
    words = counter.bits(xp, seed, stream, 0, (count * itemsize + 7) // 8)
    return words.view(xp.uint8)[: count * itemsize].view(_STORAGE[dtype]).copy()


def scalar_value(value: float | int, dtype: str) -> np.generic:
    """A by-value kernel argument with the exact C type (bfloat16 travels as its 16 bits)."""
    if dtype == "bfloat16":
        return np.uint16(to_storage(np.array([value], dtype=np.float64), dtype)[0])
    return _STORAGE[dtype](value)


# --------------------------------------------------------------------------- the case


@dataclass
class ArrayArg:
    """One array argument: its buffers (with guards) and where each batch's elements are."""

    name: str
    role: str
    dtype: str                         # resolved element type
    count: int                         # elements per batch
    batches: int                       # 1 unless batched
    batched: str                       # "" | "strided" | "pointers"
    stride: int                        # elements between batches (strided), else count
    buffers: list[np.ndarray]          # one buffer (plain, strided) or one per batch (pointers)
    pointer_scalar: bool = False       # a scalar passed through device memory

    def used_slices(self) -> list[tuple[int, slice]]:
        """(buffer index, element slice) of every batch's elements."""
        if self.batched == "pointers":
            return [(b, slice(0, self.count)) for b in range(self.batches)]
        return [(0, slice(b * self.stride, b * self.stride + self.count)) for b in range(self.batches)]

    def rows(self, buffers: list[Any]) -> Any | None:
        """The batches' stored elements of ``buffers`` (laid out as this argument's) as one [batches,
        count] array in their namespace: a view of a plain or strided buffer, the pointer batches
        stacked; None where batches overlap (a stride below the count) or pointer buffers differ."""
        first = buffers[0]
        xp = array_module(first)
        if self.batched == "pointers":
            if len(buffers) != self.batches or any(b.shape != first.shape for b in buffers):
                return None
            return xp.stack([b[: self.count] for b in buffers])
        step = self.stride if self.batched else self.count
        if step < self.count or first.shape[0] < (self.batches - 1) * step + self.count:
            return None
        if first.shape[0] >= self.batches * step:
            return first[: self.batches * step].reshape(self.batches, step)[:, : self.count]
        return xp.lib.stride_tricks.as_strided(first, shape=(self.batches, self.count),
                                               strides=(step * first.itemsize, first.itemsize))

    def gather(self, buffers: list[Any]) -> Any:
        """The batches' elements from ``buffers`` in the reference's layout (flat, or [batch, n]), in
        the buffers' namespace."""
        if not self.batched:
            i, s = self.used_slices()[0]
            return widen(buffers[i][s], self.dtype)
        rows = self.rows(buffers)
        if rows is not None:
            xp = array_module(rows)
            return widen(xp.ascontiguousarray(rows).reshape(-1), self.dtype).reshape(self.batches, self.count)
        xp = array_module(buffers[0]) if buffers else np
        out = xp.empty((self.batches, self.count), dtype=xp.float64 if is_float(self.dtype) else xp.int64)
        for b, (i, s) in enumerate(self.used_slices()):
            out[b] = widen(buffers[i][s], self.dtype)
        return out

    def reference_placeholder(self, xp: Any = np) -> Any:
        """What the reference gets for an output argument: garbage it must ignore (contract 2)."""
        shape = (self.batches, self.count) if self.batched else (self.count,)
        return xp.full(shape, xp.nan) if is_float(self.dtype) else xp.zeros(shape, dtype=xp.int64)

    def guard_slices(self, buffer_index: int) -> list[slice]:
        """Element ranges of a buffer that belong to no batch (guard zone, strided gaps), in order."""
        used = sorted((s.start, s.stop) for i, s in self.used_slices() if i == buffer_index and s.stop > s.start)
        out, pos = [], 0
        for start, stop in used:
            if start > pos:
                out.append(slice(pos, start))
            pos = max(pos, stop)
        end = self.buffers[buffer_index].shape[0]
        if end > pos:
            out.append(slice(pos, end))
        return out

    def guard_mask(self, buffer_index: int) -> np.ndarray:
        """True for elements of a buffer that belong to no batch (guard zone, strided gaps)."""
        mask = np.zeros(self.buffers[buffer_index].shape[0], dtype=bool)
        for s in self.guard_slices(buffer_index):
            mask[s] = True
        return mask


@dataclass
class LaunchPlan:
    entry: str                         # kernel name expression, e.g. "axpy_kernel<256, float>"
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared_bytes: int
    args: list[str]


@dataclass
class Case:
    kernel: str
    sizes: dict[str, int]
    dtype: str
    seed: int
    variant: str
    env: dict[str, Any]
    poison_seed: int | None = None                                 # None: the fixed poison patterns
    arrays: dict[str, ArrayArg] = field(default_factory=dict)
    scalars: dict[str, np.generic] = field(default_factory=dict)   # by-value arguments, exact C type
    reference_args: dict[str, Any] = field(default_factory=dict)   # contract 2
    launches: list[LaunchPlan] = field(default_factory=list)

    def fresh_buffers(self) -> dict[str, list[np.ndarray]]:
        """Copies of every buffer, as a run starts from (outputs poisoned, inputs set)."""
        return {n: [b.copy() for b in a.buffers] for n, a in self.arrays.items()}

    def host_buffers(self) -> dict[str, list[np.ndarray]]:
        """The case's own buffers, not copied: only for consumers that never write them (uploads)."""
        return {n: list(a.buffers) for n, a in self.arrays.items()}

    def reference_inputs(self) -> dict[str, Any]:
        """A private argument dict for one reference call (contract 2), built from the buffers.

        The arrays are new on every call, so the reference may write into them; the values are
        exactly the ones the kernel reads (the case's storage widened to float64 / int64).
        """
        args = dict(self.reference_args)
        for name, arr in self.arrays.items():
            if arr.pointer_scalar:
                continue
            xp = array_module(arr.buffers[0]) if arr.buffers else np
            args[name] = arr.reference_placeholder(xp) if arr.role == "output" else arr.gather(arr.buffers)
        return args

    @property
    def namespace(self) -> Any:
        """numpy, or CuPy for a case built on the device (``make_case(..., xp=cupy)``)."""
        for arr in self.arrays.values():
            if arr.buffers and not arr.pointer_scalar:
                return array_module(arr.buffers[0])
        return np

    def bytes_allocated(self) -> int:
        return sum(b.nbytes for a in self.arrays.values() for b in a.buffers)


def _variant_scale(variant: str, dtype: str) -> float:
    """Power-of-two scale: products of up to four scaled values stay normal in ``dtype``."""
    if variant not in ("tiny", "huge") or not is_float(dtype):
        return 1.0
    info = np.finfo(np.float32 if dtype == "bfloat16" else _STORAGE[dtype])
    if variant == "tiny":
        return 2.0 ** math.ceil(math.log2(float(info.tiny)) / 4)
    return 2.0 ** math.floor(math.log2(float(info.max)) / 4)


def _push_off_zero(v: Any, xp: Any = np) -> None:
    """In place: |v| < 0.05 moves 0.05 away from zero, keeping its sign (an unread or zero-filled
    operand then always shows in the result). Adding 0.05 is one correctly rounded add everywhere."""
    v += xp.where(xp.abs(v) < 0.05, xp.copysign(0.05, v), 0.0)


def _worker_count() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not Linux
        return max(os.cpu_count() or 1, 1)


def _chunked(out: np.ndarray, fill) -> None:
    """``fill(start, view)`` over CHUNK_ELEMENTS-sized views of ``out``, on several threads: the
    values are counter-based, so they do not depend on the chunking or the thread count."""
    count = out.shape[0]
    starts = list(range(0, count, CHUNK_ELEMENTS)) or [0]
    views = [out[s: s + CHUNK_ELEMENTS] for s in starts]
    workers = min(_worker_count(), len(views))
    if workers <= 1:
        for start, view in zip(starts, views):
            fill(start, view)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for done in pool.map(fill, starts, views):
            del done


def widen(stored: Any, dtype: str) -> Any:
    """``from_storage`` for one contiguous range, on several threads when it is large (host arrays)."""
    if stored.shape[0] <= 4 * CHUNK_ELEMENTS or dtype == "bfloat16" or not isinstance(stored, np.ndarray):
        return from_storage(stored, dtype)
    out = np.empty(stored.shape[0], dtype=np.float64 if is_float(dtype) else np.int64)

    def copy(start: int) -> None:
        np.copyto(out[start: start + CHUNK_ELEMENTS], stored[start: start + CHUNK_ELEMENTS], casting="unsafe")

    with ThreadPoolExecutor(max_workers=min(_worker_count(), 16)) as pool:
        for done in pool.map(copy, range(0, stored.shape[0], CHUNK_ELEMENTS)):
            del done
    return out


def _wide_exponent(dtype: str) -> int:
    """k of the wide variant: magnitudes 2^-k..2^k, bounded so sums of products stay inside the dtype."""
    return int(min(8.0, math.log2(_variant_scale("huge", dtype)))) if is_float(dtype) else 8


def float_values(xp: Any, init: str, seed: int, stream: int | list[int], start: int, count: int, *, variant: str,
                 dtype: str) -> Any:
    """float64 values of elements start .. start+count-1 of a "normal" / "uniform" input (``xp``:
    numpy or cupy; the same bits on both); a list of streams gives one row per stream."""
    if init == "normal" and variant == "wide":
        return counter.log_uniform(xp, seed, stream, start, count, _wide_exponent(dtype))
    if init == "normal":
        v = counter.normal(xp, seed, stream, start, count)
        _push_off_zero(v, xp)
    else:  # uniform on [-1, 1), values near zero set to 0.05
        v = counter.uniform(xp, seed, stream, start, count)
        v *= 2.0
        v -= 1.0
        v = xp.where(xp.abs(v) < 0.05, 0.05, v)
    scale = _variant_scale(variant, dtype)
    if scale != 1.0:
        v *= scale
    return v


def _fill_fast(init: str, out: np.ndarray, seed: int, stream: int, *, variant: str, dtype: str) -> bool:
    """Fill ``out`` (storage elements of one batch) for the common float inits; False if not handled."""
    if init not in FAST_INITS or not is_float(dtype):
        return False

    def fill(start: int, view: np.ndarray) -> None:
        # Blocks small enough that the generator's temporaries stay in the CPU's cache.
        for at in range(0, view.shape[0], _CACHE_BLOCK):
            part = view[at: at + _CACHE_BLOCK]
            part[:] = to_storage(float_values(np, init, seed, stream, start + at, part.shape[0], variant=variant,
                                              dtype=dtype), dtype)

    _chunked(out, fill)
    return True


def _stacked_batches(xp: Any, init: str, arr: Any, seed: int, variant: str, dtype: str) -> Any:
    """Every batch of a batched float input at once (row b: batch b's storage values, the same bits as
    drawing batch b alone), or None where batches are drawn one by one: one batch, other inits."""
    if arr.batches < 2 or init not in FAST_INITS or not is_float(dtype):
        return None
    streams = [counter.stream_id(arr.name, b) for b in range(arr.batches)]
    return to_storage(float_values(xp, init, seed, streams, 0, arr.count, variant=variant, dtype=dtype), dtype, xp)


def _square_order(count: int, arg: str, kernel: str) -> int:
    n = math.isqrt(count)
    if n * n != count:
        raise ConfigError(f"kernel '{kernel}': argument '{arg}' uses a square-matrix init but its shape has "
                          f"{count} elements", hint="give it a shape n*n or use init: normal")
    return n


def generate_values(init: str, count: int, seed: int, stream: int, *, variant: str, dtype: str,
                    arg: str, kernel: str, env: dict[str, Any], xp: Any = np) -> Any:
    """float64 (or int64 for integer inits) values of one batch of an input array, from the
    counter-based generator (element i of (seed, stream) is fixed whatever ``xp`` computes it)."""
    if init in ("normal", "uniform"):
        return float_values(xp, init, seed, stream, 0, count, variant=variant, dtype=dtype)
    if init == "positive":
        v = counter.uniform(xp, seed, stream, 0, count)
        v *= 1.5
        v += 0.5
        return v
    if init == "probabilities":
        # Integer weights: their sum is exact in any order, so the division is the same everywhere.
        weights = counter.integers(xp, seed, stream, 0, count, 1 << 16, 1 << 20)
        return weights.astype(xp.float64) / float(int(weights.sum()))
    if init in ("spd", "diag-dominant", "unit-lower"):
        n = _square_order(count, arg, kernel)
        # Multiples of 2^-8 on [-1, 1]: every product and sum below is exact, so a @ a.T does not
        # depend on the order a BLAS sums in.
        a = (counter.integers(xp, seed, stream, 0, n * n, -256, 257).astype(xp.float64) / 256.0).reshape(n, n)
        if init == "spd":
            m = a @ a.T + n * xp.eye(n)
        elif init == "diag-dominant":
            m = a + xp.diag(xp.abs(a).sum(axis=1) + 1.0)
        else:
            m = xp.tril(a, -1) + xp.eye(n)
        return m.reshape(-1)
    if init == "permutation":
        return counter.permutation(xp, seed, stream, count)
    if init == "index":
        return xp.arange(count, dtype=xp.int64)
    if init == "small-int":
        v = counter.integers(xp, seed, stream, 0, count, -8, 9)
        return xp.where(v == 0, 1, v).astype(xp.int64)
    if init == "labels":
        classes = int(env.get("V", env.get("classes", env.get("n", 16))))
        return counter.integers(xp, seed, stream, 0, count, 0, max(classes, 1))
    if init == "pivots":
        # LAPACK-style 1-based pivots: row i swaps with some row >= i.
        rows = xp.arange(count, dtype=xp.uint64)
        words = counter.bits(xp, seed, stream, 0, count)
        span = xp.maximum(xp.uint64(count) - rows, xp.uint64(1))
        return (rows + words % span).astype(xp.int64) + 1
    raise ConfigError(f"kernel '{kernel}': argument '{arg}' has unknown init {init!r}")


def _new_buffer(count: int, dtype: str, filled_later: bool, poison_seed: int | None, xp: Any = np) -> Any:
    # Input buffers are filled (values, then guards) right away: no poison pass first.
    return xp.empty(count, dtype=_STORAGE[dtype]) if filled_later else poison_array(count, dtype, poison_seed, xp)


def _apply_value_variant(target: Any, variant: str, dtype: str, seed: int, stream: int) -> None:
    """In place, for float inputs: all zeros, 30 % exact zeros, or small integers (zeros included)."""
    xp = array_module(target)
    if variant == "zeros":
        target[:] = 0
    elif variant == "sparse":
        target[counter.uniform(xp, seed, stream, 0, target.shape[0]) < 0.3] = 0
    elif variant == "structured":
        target[:] = to_storage(counter.integers(xp, seed, stream, 0, target.shape[0], -4, 5).astype(xp.float64),
                               dtype, xp)


def max_array_bytes() -> int:
    """The most one argument's buffer may take: PORTKERN_MAX_ARRAY_BYTES, else a quarter of the memory."""
    text = os.environ.get("PORTKERN_MAX_ARRAY_BYTES", "").strip()
    if text.isdigit() and int(text) > 0:
        return int(text)
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 16 << 30
    return max(total // 4, 1 << 30)


def _eval_int(text: str, env: dict[str, Any], elem_bytes: int, what: str, kernel: KernelSpec) -> int:
    try:
        return int(expr.evaluate(text, env, elem_bytes))
    except (expr.ExprError, ArithmeticError, TypeError, ValueError) as exc:
        raise ManifestError("library.yaml", f"cannot evaluate {text!r}: {exc}", kernel=kernel.name,
                            field=what) from exc


def launch_plans(kernel: KernelSpec, dtype: str, env: dict[str, Any]) -> list[LaunchPlan]:
    elem = DTYPE_BYTES[dtype]
    plans = []
    for j, ls in enumerate(kernel.launches):
        targs = instantiate(ls.template_args, dtype, env)
        entry = f"{ls.symbol}<{', '.join(targs)}>" if targs else ls.symbol
        grid = tuple(_eval_int(g, env, elem, f"launches[{j}].grid", kernel) for g in ls.grid)
        block = tuple(_eval_int(b, env, elem, f"launches[{j}].block", kernel) for b in ls.block)
        shared = _eval_int(ls.shared_bytes, env, elem, f"launches[{j}].shared_bytes", kernel)
        plans.append(LaunchPlan(entry, grid, block, shared, list(ls.args)))  # type: ignore[arg-type]
    return plans


def entries_for(kernel: KernelSpec, dtype: str, params: dict[str, int] | None,
                sizes_list: list[dict[str, int]]) -> list[str]:
    """Every kernel name expression the launches need over the given sizes (usually one set)."""
    seen: list[str] = []
    for sizes in sizes_list:
        for plan in launch_plans(kernel, dtype, kernel_env(kernel, sizes, params)):
            if plan.entry not in seen:
                seen.append(plan.entry)
    return seen


def make_case(kernel: KernelSpec, sizes: dict[str, int], dtype: str, seed: int, *, variant: str = "standard",
              params: dict[str, int] | None = None, reference_view: bool = True, xp: Any = np,
              chunked: bool | None = None) -> Case:
    """Build every argument of ``kernel`` for one (sizes, dtype, seed, variant).

    With ``reference_view`` False, ``reference_args`` holds only the scalars: a caller that checks
    few of many cases builds the float64 arrays of the ones it checks with ``Case.reference_inputs``.
    ``xp`` is the namespace of the buffers: numpy, or CuPy to build them on the device (the same bits:
    the generator is counter-based). ``chunked`` fills the common float inits chunk by chunk on host
    threads (the default for numpy); the device fills each argument at once.
    """
    chunked = (xp is np) if chunked is None else chunked
    env = kernel_env(kernel, sizes, params)
    # Every argument, batch and purpose draws from its own counter stream of the seed: an input's
    # values depend on the seed and its name, not on the other arguments or the poison and guards.
    poison_seed = int(counter.bits(np, seed, counter.stream_id("poison"), 0, 1)[0] >> np.uint64(2))
    elem = DTYPE_BYTES[dtype]
    case = Case(kernel=kernel.name, sizes=dict(sizes), dtype=dtype, seed=seed, variant=variant, env=env,
                poison_seed=poison_seed)
    batch_count = 1
    for a in kernel.args:
        if a.role == "batch":
            batch_count = int(env[a.name])
    for a in kernel.args:
        adt = resolve_dtype(a.dtype, dtype, a.role)
        if a.role in ("size", "stride", "batch"):
            value = int(env[a.name])
            case.scalars[a.name] = _STORAGE[adt](value)
            case.reference_args[a.name] = value
            continue
        if a.role == "scalar":
            if a.value:
                try:
                    v = float(expr.evaluate(a.value, env, elem))
                except (expr.ExprError, ArithmeticError, TypeError, ValueError) as exc:
                    raise ManifestError("library.yaml", f"cannot evaluate {a.value!r}: {exc}"[:500],
                                        kernel=kernel.name, field=f"args.{a.name}.value") from None
            else:
                u = counter.uniform(np, seed, counter.stream_id(a.name, "scalar"), 0, 2)
                v = (-1.0 if u[0] < 0.5 else 1.0) * (0.5 + 1.5 * float(u[1]))
            # The reference sees the value the kernel sees (rounded to its type).
            v = float(from_storage(to_storage(np.array([v]), adt), adt)[0]) if is_float(adt) else int(v)
            case.reference_args[a.name] = v
            if a.pointer:
                buf = np.concatenate([to_storage(np.array([v]), adt), guard_fill(GUARD_ELEMENTS, adt, seed,
                                                                                 counter.stream_id(a.name, "guard"))])
                buf = buf if xp is np else xp.asarray(buf)
                case.arrays[a.name] = ArrayArg(a.name, "input", adt, 1, 1, "", 1, [buf], pointer_scalar=True)
            else:
                case.scalars[a.name] = scalar_value(v, adt)
            continue
        count = _eval_int(a.shape, env, elem, f"args.{a.name}.shape", kernel)
        if count < 0 or count * DTYPE_BYTES.get(adt, 8) > max_array_bytes():
            raise ManifestError("library.yaml", f"shape evaluates to {count} elements for sizes {sizes}; "
                                f"an argument may take 0 to {max_array_bytes()} bytes",
                                kernel=kernel.name, field=f"args.{a.name}.shape",
                                hint="check the shape expression and the sizes (PORTKERN_MAX_ARRAY_BYTES raises the limit)")
        batches = batch_count if a.batched else 1
        stride = count
        if a.batched == "strided":
            stride = _eval_int(a.batch_stride or a.shape, env, elem, f"args.{a.name}.batch_stride", kernel)
            if stride < count:
                raise ManifestError("library.yaml", f"batch_stride {stride} is smaller than the shape {count}",
                                    kernel=kernel.name, field=f"args.{a.name}.batch_stride")
        is_input = a.role in ("input", "inout")
        span = (count * batches if a.batched == "pointers" else stride * max(batches - 1, 0) + count)
        if batches < 0 or span * DTYPE_BYTES.get(adt, 8) > max_array_bytes():
            raise ManifestError("library.yaml", f"{batches} batches of {count} elements for sizes {sizes} exceed "
                                f"{max_array_bytes()} bytes", kernel=kernel.name, field=f"args.{a.name}.shape")
        if a.batched == "pointers":
            buffers = [_new_buffer(count + GUARD_ELEMENTS, adt, is_input, poison_seed, xp) for _ in range(batches)]
        else:
            total = stride * (batches - 1) + count if batches else 0
            buffers = [_new_buffer(total + GUARD_ELEMENTS, adt, is_input, poison_seed, xp)]
        arr = ArrayArg(a.name, a.role, adt, count, batches, a.batched, stride, buffers)
        if is_input:
            stacked = _stacked_batches(xp, a.init, arr, seed, variant, adt) if not chunked else None
            for b, (i, s) in enumerate(arr.used_slices()):
                target = buffers[i][s]
                stream = counter.stream_id(a.name, b)
                if stacked is not None:
                    target[:] = stacked[b]
                elif not (chunked and _fill_fast(a.init, target, seed, stream, variant=variant, dtype=adt)):
                    target[:] = to_storage(generate_values(a.init, count, seed, stream, variant=variant, dtype=adt,
                                                           arg=a.name, kernel=kernel.name, env=env, xp=xp), adt, xp)
                if variant in ZERO_VARIANTS and a.init in _VALUE_INITS and is_float(adt):
                    _apply_value_variant(target, variant, adt, seed, counter.stream_id(a.name, b, variant))
        for i, buf in enumerate(buffers):
            for g, s in enumerate(arr.guard_slices(i)):
                buf[s] = guard_fill(s.stop - s.start, adt, seed, counter.stream_id(a.name, i, g, "guard"), xp)
        case.arrays[a.name] = arr
        if reference_view:
            case.reference_args[a.name] = arr.reference_placeholder(xp) if a.role == "output" else arr.gather(buffers)
    case.launches = launch_plans(kernel, dtype, env)
    return case
