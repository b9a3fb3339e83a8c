"""The counter-based input generator: pure function of (seed, stream, index), same bits on every namespace."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from portkern.harness import counter
from portkern.harness.inputs import make_case
from portkern.library import load_library

MASK = (1 << 64) - 1


def splitmix_python(seed: int, stream: int, index: int) -> int:
    """The generator's word written again on Python ints (no numpy), to pin what the xp code computes."""
    z = (index * 0x9E3779B97F4A7C15 + counter.key(seed, stream)) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def test_words_match_an_independent_integer_implementation():
    words = counter.bits(np, 12345, counter.stream_id("x", 0), 1000, 64)
    assert words.dtype == np.uint64
    assert [int(w) for w in words] == [splitmix_python(12345, counter.stream_id("x", 0), 1000 + i) for i in range(64)]


def test_values_depend_only_on_seed_stream_and_index():
    s = counter.stream_id("A", 3)
    whole = counter.normal(np, 7, s, 0, 5000)
    # Any chunking gives the same elements: a device can fill its part of an array on its own.
    parts = np.concatenate([counter.normal(np, 7, s, a, b - a) for a, b in ((0, 1), (1, 999), (999, 5000))])
    assert np.array_equal(whole.view(np.uint64), parts.view(np.uint64))
    assert not np.array_equal(whole, counter.normal(np, 8, s, 0, 5000))
    assert not np.array_equal(whole, counter.normal(np, 7, counter.stream_id("A", 4), 0, 5000))
    assert counter.stream_id("A", 3) != counter.stream_id("A", 4) != counter.stream_id("B", 3)


def test_distributions_have_the_stated_moments_and_ranges():
    u = counter.uniform(np, 1, 2, 0, 200_000)
    assert 0.0 <= u.min() and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.005 and abs(u.var() - 1 / 12) < 0.002
    z = counter.normal(np, 1, 3, 0, 200_000)
    assert abs(z.mean()) < 0.01 and abs(z.var() - 1.0) < 0.01 and np.abs(z).max() < 2 * np.sqrt(3)
    assert (np.abs(z) > 2.5).mean() > 0.005          # tails exist (a Gaussian has 1.2 % beyond 2.5)
    i = counter.integers(np, 1, 4, 0, 90_000, -4, 5)
    assert i.min() == -4 and i.max() == 4 and np.all(np.abs(np.bincount(i + 4) / 10_000 - 1) < 0.1)
    w = counter.log_uniform(np, 1, 5, 0, 100_000, 8)
    assert np.abs(w).min() >= 2.0 ** -8 and np.abs(w).max() < 2.0 ** 8 and 0.45 < (w < 0).mean() < 0.55
    exps = np.floor(np.log2(np.abs(w))).astype(int)
    assert set(exps) == set(range(-8, 8))
    p = counter.permutation(np, 1, 6, 1000)
    assert np.array_equal(np.sort(p), np.arange(1000)) and not np.array_equal(p, np.arange(1000))


def test_case_inputs_come_from_the_counter_streams():
    adv = load_library(Path(__file__).parent / "adversarial")
    k = adv.kernel("honest_axpby")
    case = make_case(k, {"n": 3000}, "float64", 99)
    x = case.arrays["x"].buffers[0][:3000]
    want = counter.normal(np, 99, counter.stream_id("x", 0), 0, 3000)
    want = np.where(np.abs(want) < 0.05, want + np.copysign(0.05, want), want)
    assert np.array_equal(x.view(np.uint64), want.view(np.uint64))
    # Another argument of the same case is another stream: not the same values.
    assert not np.array_equal(x, case.arrays["y"].buffers[0][:3000])


@pytest.mark.gpu
def test_cupy_gives_the_same_bits_as_numpy():
    cp = pytest.importorskip("cupy", reason="CuPy is not installed (no GPU here)")
    try:
        cp.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no driver or no device
        pytest.skip(f"no CUDA device: {exc}")
    s = counter.stream_id("x", 0)
    for fn, extra in ((counter.bits, ()), (counter.uniform, ()), (counter.normal, ()),
                      (counter.log_uniform, (8,)), (counter.integers, (-8, 9))):
        host = fn(np, 5, s, 17, 100_003, *extra)
        dev = cp.asnumpy(fn(cp, 5, s, 17, 100_003, *extra))
        assert host.dtype == dev.dtype and np.array_equal(host.view(np.uint8), dev.view(np.uint8)), fn.__name__
    assert np.array_equal(counter.permutation(np, 5, s, 5000), cp.asnumpy(counter.permutation(cp, 5, s, 5000)))
