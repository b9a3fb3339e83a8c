"""Tolerances that follow the inputs' magnitudes: a correct kernel is not rejected when terms cancel,
a wrong one still is."""

from __future__ import annotations

import numpy as np
import pytest

from portkern.harness.compare import check_run
from portkern.harness.inputs import from_storage, make_case, to_storage
from portkern.harness.references import MAGNITUDES, call_reference
from portkern.library import load_library


@pytest.fixture(scope="module")
def blas():
    return load_library("blas")


def _dot_case(blas, values_x, values_y):
    k = blas.kernel("dot_half")
    n = len(values_x)
    case = make_case(k, {"n": n, "incx": 1, "incy": 1}, "float16", 3)
    for name, values in (("x", values_x), ("y", values_y)):
        case.arrays[name].buffers[0][:n] = to_storage(np.asarray(values, dtype=np.float64), "float16")
        case.reference_args[name] = from_storage(case.arrays[name].buffers[0][:n], "float16")
    return k, case


def _run_with_result(case, value: float):
    after = case.fresh_buffers()
    after["result"][0][:1] = to_storage(np.array([value]), "float16")
    return after


def _half_precision_dot(x: np.ndarray, y: np.ndarray) -> float:
    """What a correct kernel that multiplies and accumulates in float16 leaves."""
    acc = np.float16(0)
    for a, b in zip(x.astype(np.float16), y.astype(np.float16)):
        acc = np.float16(acc + np.float16(a * b))
    return float(acc)


def test_cancelling_dot_in_half_precision_passes_and_a_wrong_one_fails(blas):
    rng = np.random.default_rng(0)
    x = np.abs(np.round(rng.standard_normal(64) * 8, 2))
    y = np.abs(np.round(rng.standard_normal(64) * 8, 2))
    # The last term cancels the sum of the others to within a small remainder.
    partial = float(np.dot(x[:-1].astype(np.float16).astype(np.float64), y[:-1].astype(np.float16).astype(np.float64)))
    y[-1] = 1.0
    x[-1] = -partial + 0.0625
    k, case = _dot_case(blas, x, y)
    reference = call_reference(blas.reference(k), case.reference_inputs(), "float16")
    want = float(reference["result"][0])
    got = _half_precision_dot(case.reference_args["x"], case.reference_args["y"])
    assert want != 0 and abs(got - want) > 0.5 * abs(want)   # the correct half-precision result is far off
    assert check_run(k, case, _run_with_result(case, got), reference).passed
    # Without the terms' magnitude the same correct result is rejected: the tolerance follows |result| only.
    only_result = {n: v for n, v in reference.items() if n != MAGNITUDES}
    assert check_run(k, case, _run_with_result(case, got), only_result).failure == "mismatch"
    # A kernel that misses the last element is still rejected.
    missed = float(np.dot(case.reference_args["x"][:-1], case.reference_args["y"][:-1]))
    assert check_run(k, case, _run_with_result(case, missed), reference).failure == "mismatch"


def test_single_term_dot_is_judged_by_its_rounding(blas):
    k, case = _dot_case(blas, [0.1497], [0.1466])
    reference = call_reference(blas.reference(k), case.reference_inputs(), "float16")
    want = float(reference["result"][0])
    assert check_run(k, case, _run_with_result(case, want * (1 + 2.0 ** -10)), reference).passed
    assert check_run(k, case, _run_with_result(case, want * 1.2), reference).failure == "mismatch"


def test_gelu_far_below_zero_is_judged_against_its_input(blas):
    nn = load_library("nn")
    k = nn.kernel("gelu_forward")
    case = make_case(k, {"N": 1}, "float32", 5)
    case.arrays["inp"].buffers[0][:1] = -4.0
    reference = call_reference(nn.reference(k), case.reference_inputs(), "float32")
    want = float(reference["out"][0])
    after = case.fresh_buffers()
    # What float32 tanh gives: 1 + tanh(u) cancels, the error is ~1e-7 of |x|, 5e-4 of the result.
    after["out"][0][:1] = np.float32(-7.021427154541016e-05)
    assert abs(-7.021427154541016e-05 - want) > 1e-4 * abs(want)
    assert check_run(k, case, after, reference).passed
    # The allowance is rtol x |x| (4e-5 here): a result of the wrong sign is still rejected.
    after["out"][0][:1] = np.float32(-want)
    assert check_run(k, case, after, reference).failure == "mismatch"


def test_lu_with_a_pivot_tie_is_not_compared_but_still_guarded():
    solver = load_library("solver")
    k = solver.kernel("getf2")
    case = make_case(k, {"m": 3, "n": 3}, "float32", 1)
    # Column-major [[4, 1, 0], [2, 3, 0], [-2, 2, 1]]: after the first step rows 2 and 3 tie in column 2.
    a = np.array([4.0, 2.0, -2.0, 1.0, 3.0, 2.0, 0.0, 0.0, 1.0])
    case.arrays["A"].buffers[0][:9] = to_storage(a, "float32")
    reference = call_reference(solver.reference(k), case.reference_inputs(), "float32")
    assert set(reference) == {"__undefined__"} and "column 2" in reference["__undefined__"]
    after = case.fresh_buffers()
    after["ipiv"][0][:3] = [1, 3, 3]
    after["info"][0][:1] = 0
    result = check_run(k, case, after, reference)
    assert result.passed and "not compared" in result.detail
    after["A"][0][9] += 1                         # the first guard element
    assert check_run(k, case, after, reference).failure == "out-of-bounds-write"
    # Without a tie the reference answers as LAPACK does.
    a[5] = 1.0
    case.arrays["A"].buffers[0][:9] = to_storage(a, "float32")
    reference = call_reference(solver.reference(k), case.reference_inputs(), "float32")
    assert "__undefined__" not in reference and list(reference["ipiv"]) == [1, 2, 3]


def test_half_precision_axpy_of_one_cancelling_element_passes(blas):
    """y = alpha*x + y with n = 1 where alpha*x almost cancels y: a kernel that rounds alpha*x to
    float16 before adding is correct, though its error is a large fraction of the small result."""
    k = blas.kernel("axpy")
    case = make_case(k, {"n": 1, "incx": 1, "incy": 1}, "float16", 11)
    alpha = float(case.reference_args["alpha"])
    worst = None
    for t in np.linspace(2.0, 4.0, 128, endpoint=False):      # alpha*x in [2, 4): float16 ulp 2^-8
        x16 = float(np.float16(t / alpha))
        y16 = float(np.float16(-alpha * x16 + 0.021954))
        got = float(np.float16(np.float16(np.float16(alpha) * np.float16(x16)) + np.float16(y16)))
        error = abs(got - (alpha * x16 + y16))
        if worst is None or error > worst[0]:
            worst = (error, x16, y16, got)
    error, x16, y16, got = worst
    case.arrays["x"].buffers[0][:1] = np.float16(x16)
    case.arrays["y"].buffers[0][:1] = np.float16(y16)
    reference = call_reference(blas.reference(k), case.reference_inputs(), "float16")
    want = float(reference["y"][0])
    assert error > 0.02 * abs(want)       # more than the old tolerance, (atol + rtol) x |result|
    after = case.fresh_buffers()
    after["y"][0][:1] = np.float16(got)
    assert check_run(k, case, after, reference).passed
    only_result = {n: v for n, v in reference.items() if n != MAGNITUDES}
    assert check_run(k, case, after, only_result).failure == "mismatch"
    after["y"][0][:1] = np.float16(y16)          # alpha*x never added
    assert check_run(k, case, after, reference).failure == "mismatch"
