"""Judge one run of one case: guards, input mutation, unwritten outputs, NaN, then values.

The order of checks is the order of severity: a kernel that writes out of bounds or changes its
inputs is rejected whatever its outputs hold.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from portkern import expr
from portkern.harness.inputs import Case, array_module, is_float, poison_mask, widen
from portkern.harness.references import UNDEFINED, split_magnitudes
from portkern.library import KernelSpec
from portkern.model import CaseResult

MISMATCH_SAMPLE = 5


def tolerance(kernel: KernelSpec, dtype: str, env: dict[str, Any]) -> tuple[float, float]:
    """(rtol, atol) for ``dtype``; reductions widen both by sqrt(terms summed per output)."""
    tol = kernel.tolerance_for(dtype)
    rtol, atol = float(tol.get("rtol", 0.0)), float(tol.get("atol", 0.0))
    if kernel.reduction_length and (rtol or atol):
        length = float(expr.evaluate(kernel.reduction_length, env))
        factor = math.sqrt(max(length, 1.0))
        rtol, atol = rtol * factor, atol * factor
    return rtol, atol


_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _bits_equal(a: Any, b: Any) -> Any:
    """Element-wise bit equality (NaN payloads included), for 1-D arrays of one dtype and namespace."""
    xp = array_module(a)
    width = a.dtype.itemsize
    a, b = xp.ascontiguousarray(a), xp.ascontiguousarray(b)
    if width in _UNSIGNED:
        # One integer compare per element: same answer as comparing the bytes, without a byte matrix.
        return a.view(_UNSIGNED[width]) == b.view(_UNSIGNED[width])
    return (a.view(xp.uint8).reshape(-1, width) == b.view(xp.uint8).reshape(-1, width)).all(axis=1)


# A region of a buffer as a 2-D view: element [r, c] of the view is element base + r * row_step + c of the buffer.
_Region = tuple[Any, int, int]


def _regions(arg: Any, buf: Any, inside: bool) -> list[_Region] | None:
    """The batches' elements of one plain or strided buffer (``inside``) or everything else (guard zone,
    gaps between batches) as a few 2-D views; None where batches overlap."""
    step = arg.stride if arg.batched else arg.count
    batches, count, length = arg.batches, arg.count, buf.shape[0]
    if step < count or length < (batches - 1) * step + count:
        return None
    if inside:
        return [(arg.rows([buf]), 0, step)]
    whole = batches if length >= batches * step else batches - 1     # batches with their full stride inside
    out: list[_Region] = []
    if step > count and whole:
        out.append((buf[: whole * step].reshape(whole, step)[:, count:], count, step))
    tail = whole * step if whole == batches else (batches - 1) * step + count
    if tail < length:
        out.append((buf[tail:].reshape(1, -1), tail, 0))
    return out


def _count_changed(pairs: list[tuple[_Region, Any]], xp: Any) -> tuple[int, int]:
    """(elements whose bits differ, the buffer index of the first) over (region after, the same view
    before) pairs; on a GPU the pairs of one shape are compared at once (one count, one transfer)."""
    if not pairs:
        return 0, -1
    if xp is not np and len(pairs) > 1 and len({p[0][0].shape for p in pairs}) == 1:
        after = xp.stack([p[0][0] for p in pairs])
        before = xp.stack([p[1] for p in pairs])
        changed = ~_bits_equal(after.reshape(-1), before.reshape(-1))
        total = int(changed.sum())
        if not total:
            return 0, -1
        k, r, c = (int(v) for v in xp.unravel_index(int(xp.flatnonzero(changed)[0]), after.shape))
        (_, base, row_step), _ = pairs[k]
        return total, base + r * row_step + c
    total, first = 0, -1
    for (view, base, row_step), before in pairs:
        changed = ~_bits_equal(xp.ascontiguousarray(view).reshape(-1), xp.ascontiguousarray(before).reshape(-1))
        n = int(changed.sum())
        if n and first < 0:
            r, c = divmod(_first(changed), view.shape[1])
            first = base + r * row_step + c
        total += n
    return total, first


def _changes(arg: Any, after: list[Any]) -> tuple[int, int, int, int] | None:
    """(elements changed outside the batches, the first of them, elements changed inside a read-only
    argument's batches, the first of them as an index within its batch) of one argument's buffers against
    what it was given, compared as a few 2-D views (guard zones and gaps; the batches only for inputs)
    rather than batch by batch. None where batches overlap: the caller walks the slices instead."""
    before = arg.buffers
    if len(after) == len(before) and all(a is b for a, b in zip(after, before)):
        return 0, -1, 0, -1                       # the caller's own buffers (a digest matched)
    if len(after) != len(before) or any(a.shape != b.shape or a.dtype != b.dtype for a, b in zip(after, before)):
        return None
    xp = array_module(before[0])
    found = []
    for inside in (False, True):
        if inside and arg.role != "input":
            found.append((0, -1))
            continue
        pairs = []
        for a, b in zip(after, before):
            if arg.batched == "pointers":
                mine = [(a[: arg.count].reshape(1, -1), 0, 0)] if inside else (
                    [(a[arg.count:].reshape(1, -1), arg.count, 0)] if a.shape[0] > arg.count else [])
                theirs = [b[: arg.count].reshape(1, -1)] if inside else [b[arg.count:].reshape(1, -1)]
            else:
                mine, theirs_regions = _regions(arg, a, inside), _regions(arg, b, inside)
                if mine is None or theirs_regions is None:
                    return None
                theirs = [r[0] for r in theirs_regions]
            pairs.extend(zip(mine, theirs))
        total, first = _count_changed(pairs, xp)
        found.append((total, first % arg.stride if inside and arg.batched == "strided" and first >= 0 else first))
    (outside, first_out), (inside_n, first_in) = found
    return outside, first_out, inside_n, first_in


def _walked_changes(arg: Any, after: list[Any]) -> tuple[int, int, int, int]:
    """``_changes`` slice by slice (every guard zone and gap, then a read-only argument's batches): for
    layouts whose batches overlap."""
    outside, first_out = 0, -1
    for i, before in enumerate(arg.buffers):
        for s in arg.guard_slices(i):
            changed = ~_bits_equal(after[i][s], before[s])
            n = int(changed.sum())
            if n and first_out < 0:
                first_out = s.start + _first(changed)
            outside += n
    inside, first_in = 0, -1
    if arg.role == "input":
        for i, s in arg.used_slices():
            changed = ~_bits_equal(after[i][s], arg.buffers[i][s])
            n = int(changed.sum())
            if n and first_in < 0:
                first_in = _first(changed)
            inside += n
    return outside, first_out, inside, first_in


def _first(mask: Any) -> int:
    return int(array_module(mask).flatnonzero(mask)[0])


def _result(case: Case, passed: bool, failure: str = "", detail: str = "", **kw: Any) -> CaseResult:
    return CaseResult(sizes=dict(case.sizes), dtype=case.dtype, seed=case.seed, passed=passed, failure=failure,
                      detail=(f"[{case.variant}] " + detail) if detail else "", **kw)


def check_run(kernel: KernelSpec, case: Case, after: dict[str, list[Any]],
              reference: dict[str, Any]) -> CaseResult:
    """Compare the buffers a run left (``after``) with the case's inputs and the float64 reference.

    Every array (the case's buffers, ``after``, the reference) is in the case's namespace: numpy, or
    CuPy when the case was built on the device; the same checks either way.
    """
    xp = case.namespace
    # Per argument: how many elements changed outside its batches and inside them (a read-only one's).
    changes = {name: _changes(arg, after[name]) or _walked_changes(arg, after[name])
               for name, arg in case.arrays.items()}
    # 1. Guard zones and strided gaps keep their poison: anything else is an out-of-bounds write.
    for name, arg in case.arrays.items():
        outside, first, _, _ = changes[name]
        if outside:
            return _result(case, False, "out-of-bounds-write",
                           f"'{name}' written at element {first} outside its {arg.count} elements per batch "
                           f"({outside} elements outside the argument changed)")
    # 2. Read-only arguments are unchanged, bit for bit.
    for name, arg in case.arrays.items():
        _, _, inside, first = changes[name]
        if inside:
            return _result(case, False, "input-mutated",
                           f"input '{name}' changed at {inside} of {arg.count * arg.batches} elements "
                           f"(first at {first})")
    # 3. Outputs: fully written, no NaN, within tolerance.
    if UNDEFINED in reference:
        return _result(case, True, detail=f"values not compared: {str(reference[UNDEFINED])[:300]}")
    rtol, atol = tolerance(kernel, case.dtype, case.env)
    reference, magnitudes = split_magnitudes(reference)
    worst_abs = worst_rel = 0.0
    sample: list[dict[str, Any]] = []
    failure, detail = "", ""
    for name, arg in case.arrays.items():
        if arg.role not in ("output", "inout"):
            continue
        if name not in reference:
            return _result(case, False, "reference", f"reference returned no value for '{name}'")
        rows = arg.rows(after[name]) if arg.batched else None
        if rows is not None:           # every batch at once
            got_raw = [xp.ascontiguousarray(rows).reshape(-1)]
            got = widen(got_raw[0], arg.dtype).reshape(arg.batches, arg.count)
        else:
            got_raw = [after[name][i][s] for i, s in arg.used_slices()]
            got = arg.gather(after[name])
        want = xp.asarray(reference[name]).reshape(got.shape)
        if arg.role == "output":
            unwritten = sum(int(poison_mask(g, arg.dtype, case.poison_seed).sum()) for g in got_raw)
            if unwritten:
                return _result(case, False, "unwritten",
                               f"output '{name}': {unwritten} of {got.size} elements never written")
        if not is_float(arg.dtype):
            bad = got != want
            if bad.any():
                idx = xp.flatnonzero(bad.reshape(-1))[:MISMATCH_SAMPLE].tolist()
                failure = failure or "mismatch"
                detail = detail or f"'{name}': {int(bad.sum())} of {got.size} integers differ"
                sample += [{"arg": name, "index": int(i), "got": int(got.reshape(-1)[i]),
                            "expected": int(want.reshape(-1)[i])} for i in idx]
            continue
        want_nan = xp.isnan(want)
        if want_nan.any():
            return _result(case, False, "reference-nan",
                           f"the float64 reference of '{name}' holds NaN for these inputs; choose an init "
                           "that keeps the routine defined")
        got_nan = xp.isnan(got)
        if got_nan.any():
            first = _first(got_nan.reshape(-1))
            return _result(case, False, "nan", f"output '{name}' holds {int(got_nan.sum())} NaN (first at {first})",
                           mismatch_sample=[{"arg": name, "index": first, "got": "nan",
                                             "expected": float(want.reshape(-1)[first])}])
        finite = xp.isfinite(want)
        inf_bad = (~finite) & (got != want)
        scale = float(xp.max(xp.abs(want[finite]))) if finite.any() else 1.0
        scale = scale if scale > 0 else 1.0
        err = xp.where(finite, xp.abs(got - xp.where(finite, want, 0.0)), 0.0)
        err = xp.where(inf_bad, xp.inf, err)
        # Norm-wise absolute tolerance: scale-invariant, so tiny and huge inputs are judged alike.
        # The relative part follows the size of what the output is computed from where the reference
        # gives it: when terms cancel, a correct kernel's error is relative to them, not to the result.
        relative_to = xp.abs(xp.where(finite, want, 0.0))
        if name in magnitudes:
            magnitude = xp.asarray(magnitudes[name], dtype=xp.float64).reshape(got.shape)
            relative_to = xp.maximum(relative_to, xp.where(xp.isfinite(magnitude), magnitude, 0.0))
        allowed = atol * scale + rtol * relative_to
        bad = err > allowed
        worst_abs = max(worst_abs, float(err.max()) if err.size else 0.0)
        meaningful = xp.abs(want) > scale * 1e-6
        if meaningful.any():
            worst_rel = max(worst_rel, float((err[meaningful] / xp.abs(want[meaningful])).max()))
        if bad.any():
            idx = xp.flatnonzero(bad.reshape(-1))[:MISMATCH_SAMPLE].tolist()
            failure = failure or "mismatch"
            detail = detail or (f"'{name}': {int(bad.sum())} of {got.size} elements outside tolerance "
                                f"(rtol {rtol:.3g}, atol {atol:.3g} x {scale:.3g})")
            flat_got, flat_want = got.reshape(-1), want.reshape(-1)
            sample += [{"arg": name, "index": int(i), "got": float(flat_got[i]), "expected": float(flat_want[i])}
                       for i in idx]
    return _result(case, not failure, failure, detail, max_abs_error=worst_abs, max_rel_error=worst_rel,
                   atol=atol, rtol=rtol, mismatch_sample=sample[:MISMATCH_SAMPLE])
