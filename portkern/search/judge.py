"""The keep/revert rule shared by the model strategies: is a new candidate a real step forward?"""

from __future__ import annotations

from portkern.search.base import Evaluation

MIN_GAIN_FRACTION = 0.01                 # a gain under 1% is not trusted even when the spread is tiny


def passed_cases(ev: Evaluation) -> int:
    return sum(c.passed for c in ev.validation.cases) if ev.validation is not None else 0


def faster_beyond_noise(new: Evaluation, cur: Evaluation, noise_factor: float = 1.0,
                        min_gain_fraction: float = MIN_GAIN_FRACTION) -> bool:
    if new.score_ms <= 0 or cur.score_ms <= 0:
        return False
    margin = max(noise_factor * max(new.spread_ms, cur.spread_ms), min_gain_fraction * cur.score_ms)
    return new.score_ms < cur.score_ms - margin


def step_forward(new: Evaluation, cur: Evaluation, noise_factor: float = 1.0,
                 min_gain_fraction: float = MIN_GAIN_FRACTION) -> tuple[bool, str]:
    """(keep, why). A correct kernel is only replaced by a correct one that is faster beyond the noise;
    a broken one by one that is less broken (compiles, or passes more cases, or is correct)."""
    if not new.compiled:
        return False, "does not compile"
    if cur.correct:
        if not new.correct:
            return False, f"wrong results ({new.validation.failure if new.validation else 'not validated'})"
        if faster_beyond_noise(new, cur, noise_factor, min_gain_fraction):
            return True, f"{cur.score_ms:.4g} -> {new.score_ms:.4g} ms, beyond the noise"
        return False, (f"not faster beyond the noise ({new.score_ms:.4g} vs {cur.score_ms:.4g} ms, "
                       f"spread {max(new.spread_ms, cur.spread_ms):.2g} ms)")
    if new.correct:
        return True, "now correct"
    if not cur.compiled:
        return True, "now compiles"
    if passed_cases(new) > passed_cases(cur):
        return True, f"passes {passed_cases(new)} cases instead of {passed_cases(cur)}"
    return False, "still wrong, no more cases pass"
