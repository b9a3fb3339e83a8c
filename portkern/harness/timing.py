"""When to stop timing: trials until the median is known to within a set fraction, or a cap.

The interval is the distribution-free one for a median: with n sorted trials, the order statistics
x_(k) and x_(n+1-k), where k is the largest index with P(B < k) <= (1 - confidence) / 2 for
B ~ Binomial(n, 1/2). It needs no assumption about the shape of the timing distribution (a few slow
outliers from clocks or interrupts do not widen it much), and it exists from 6 trials at 95%.

``adaptive_trials(run_batch, ...)`` drives a timing loop: it asks ``run_batch(count)`` for more
trials until the interval lies within ``fraction`` of the median on both sides, or ``max_trials``.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from math import comb

CONFIDENCE = 0.95


def median_interval(times: list[float], confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    """The ``confidence`` interval of the median of ``times``, or None when there are too few trials."""
    xs = sorted(times)
    n = len(xs)
    tail = (1.0 - confidence) / 2.0
    total = 1 << n
    cumulative, k = 0, 0
    # Integer arithmetic: the binomial tail stays exact for any number of trials.
    for i in range(n):
        cumulative += comb(n, i)
        if cumulative / total > tail:
            break
        k = i + 1
    if k == 0:
        return None
    return xs[k - 1], xs[n - k]


def relative_half_width(times: list[float], confidence: float = CONFIDENCE) -> float:
    """The larger distance from the median to an end of its interval, as a fraction of the median
    (infinity when the interval does not exist yet or the median is not positive)."""
    interval = median_interval(times, confidence)
    if interval is None:
        return float("inf")
    median = statistics.median(times)
    if median <= 0:
        return float("inf")
    lo, hi = interval
    return max(median - lo, hi - median) / median


@dataclass
class TrialPlan:
    min_trials: int = 10
    max_trials: int = 200
    fraction: float = 0.02               # 0: no early stop, always max_trials
    confidence: float = CONFIDENCE

    def __post_init__(self) -> None:
        self.min_trials = max(1, min(int(self.min_trials), int(self.max_trials)))
        self.max_trials = max(1, int(self.max_trials))

    def converged(self, times: list[float]) -> bool:
        return (self.fraction > 0 and len(times) >= self.min_trials
                and relative_half_width(times, self.confidence) <= self.fraction)

    def next_batch(self, done: int) -> int:
        """How many trials to ask for next after ``done`` (0: stop)."""
        if done >= self.max_trials:
            return 0
        if self.fraction <= 0:
            return self.max_trials - done
        if done < self.min_trials:
            return self.min_trials - done
        # Grow by half of what there is: few synchronisations, little overshoot past the point of enough.
        return min(self.max_trials - done, max(done // 2, 1))


def adaptive_trials(run_batch: Callable[[int], list[float]], plan: TrialPlan) -> list[float]:
    """Trials from ``run_batch(count)`` (which returns ``count`` times) until ``plan`` says enough."""
    times: list[float] = []
    while True:
        count = plan.next_batch(len(times))
        if count <= 0:
            return times
        got = list(run_batch(count))
        if len(got) != count:
            raise ValueError(f"a timing batch of {count} trials returned {len(got)} times")
        times += got
        if plan.converged(times):
            return times
