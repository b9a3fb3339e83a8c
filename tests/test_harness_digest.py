"""Keyed digests of read-only buffers (portkern.harness.digest): exact, keyed, any dtype and size."""

import numpy as np
import pytest

from portkern.harness.digest import _CHUNK, keyed_digest


def _data(n, dtype=np.float32, seed=3):
    return np.random.default_rng(seed).standard_normal(n).astype(dtype)


def test_the_digest_is_a_function_of_the_bytes_and_the_key():
    a = _data(1000)
    assert keyed_digest(a, 7) == keyed_digest(a.copy(), 7)
    # The same bytes seen as another dtype give the same digest; another key gives another one.
    assert keyed_digest(a, 7) == keyed_digest(a.view(np.uint8), 7) == keyed_digest(a.view(np.int16), 7)
    assert keyed_digest(a, 7) != keyed_digest(a, 8)
    assert keyed_digest(a, 7).startswith("4000:")


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int8, np.complex64])
def test_every_single_element_change_is_seen(dtype):
    a = _data(257, dtype)
    base = keyed_digest(a, 12345)
    for i in range(a.size):
        b = a.copy()
        b.view(np.uint8)[i * a.itemsize] ^= 0x80
        assert keyed_digest(b, 12345) != base, i


def test_swapped_elements_and_length_changes_are_seen():
    a = _data(64)
    b = a.copy()
    b[[3, 40]] = b[[40, 3]]
    assert keyed_digest(b, 1) != keyed_digest(a, 1)
    # A byte count that is not a multiple of four: padded, and the length is part of the digest.
    c = np.zeros(5, dtype=np.uint8)
    assert keyed_digest(c, 1) != keyed_digest(c[:4], 1) != keyed_digest(np.zeros(8, np.uint8), 1)


def test_buffers_longer_than_one_pass_are_digested_whole():
    a = np.zeros(_CHUNK + 3, dtype=np.uint32)
    base = keyed_digest(a, 99)
    a[-1] = 1
    assert keyed_digest(a, 99) != base
    a[-1], a[0] = 0, 1
    assert keyed_digest(a, 99) != base
