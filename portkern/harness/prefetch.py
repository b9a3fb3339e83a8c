"""Host work done while a worker runs: the float64 references of the cases it was given.

The caller of a worker waits on a pipe for most of a validation or a timing. ``Prefetch`` computes
the expected outputs of the cases in a background thread meanwhile (numpy releases the interpreter
lock in the heavy parts), so the checks after the reply only compare. ``OnDemand`` computes them when
asked (on a GPU, after the timing). Nothing here depends on what the worker sends: the inputs are the
caller's own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any


class Prefetch:
    """``fn()`` of each (key, fn) computed in order in one background thread; ``get(key)`` waits for it
    (or computes it here when it was never scheduled) and raises what it raised."""

    def __init__(self, items: list[tuple[Hashable, Callable[[], Any]]]):
        self._fns = dict(items)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="portkern-reference")
        self._futures: dict[Hashable, Future] = {key: self._pool.submit(fn) for key, fn in items}

    def get(self, key: Hashable) -> Any:
        future = self._futures.get(key)
        if future is None or future.cancelled():
            return self._fns[key]()
        return future.result()

    def getter(self, key: Hashable) -> Callable[[], Any]:
        return lambda: self.get(key)

    def close(self) -> None:
        """Drop what has not started (a worker that failed needs no references)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> Prefetch:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class OnDemand:
    """``Prefetch``'s interface, computed in the caller's thread when first asked for and kept: for
    references on a GPU, which take milliseconds and must not run while a candidate is timed."""

    def __init__(self, items: list[tuple[Hashable, Callable[[], Any]]]):
        self._fns = dict(items)
        self._done: dict[Hashable, Any] = {}
        self.seconds = 0.0  # spent computing, for the caller's phase figures

    def get(self, key: Hashable) -> Any:
        if key not in self._done:
            start = time.perf_counter()
            try:
                self._done[key] = self._fns[key]()
            finally:
                self.seconds += time.perf_counter() - start
        return self._done[key]

    def getter(self, key: Hashable) -> Callable[[], Any]:
        return lambda: self.get(key)

    def close(self) -> None:
        self._done.clear()

    def __enter__(self) -> OnDemand:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
