"""What became of each model call: the words the run summary, the report, the run store and the
dataset use for it.

- ``failed``: no reply (transport or server failure within the call's time limit);
- ``no code``: a reply, but no usable kernel in it (the reply checks' reason says why; a reply cut
  at the time or token limit usually lands here);
- ``does not compile`` / ``wrong``: the candidate built from it failed to compile / to validate;
- ``faster`` / ``slower`` / ``not faster``: correct, and faster or slower than its parent beyond
  the noise, or within it;
- ``correct``: correct where its parent was not, or not timed against a timed parent;
- ``not evaluated``: a candidate the search stopped before evaluating;
- ``forecast`` / ``no forecast``: a time forecast (``perfmodel.llm_forecast``) was read from the reply,
  or the reply held none; a forecast writes no code, so it has none of the outcomes above.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from portkern.search.base import Evaluation
from portkern.search.judge import faster_beyond_noise

OUTCOMES = ("failed", "no code", "does not compile", "wrong", "slower", "not faster", "faster", "correct",
            "not evaluated", "forecast", "no forecast")
FORECAST_KIND = "forecast"


def call_outcome(call: Any, evaluations: dict[str, Evaluation], noise_factor: float = 1.0) -> str:
    """The outcome of one ``ModelCall``, given every evaluation of the run by candidate id."""
    if call.error:
        return "failed"
    if call.kind == FORECAST_KIND:
        return "forecast" if call.accepted else "no forecast"
    if not call.accepted:
        return "no code"
    ev = evaluations.get(call.candidate) if call.candidate else None
    if ev is None:
        return "not evaluated"
    if not ev.compiled:
        return "does not compile"
    if not ev.correct:
        return "wrong"
    parent = evaluations.get(ev.candidate.parent)
    if parent is None or not parent.correct or parent.score_ms <= 0 or ev.score_ms <= 0:
        return "correct"
    if faster_beyond_noise(ev, parent, noise_factor):
        return "faster"
    if faster_beyond_noise(parent, ev, noise_factor):
        return "slower"
    return "not faster"


def call_entry(call: Any, outcome: str) -> dict[str, Any]:
    """One call as the summary and the report list it."""
    why = call.error or call.reject_reason or ""
    return {"call_id": call.call_id, "kernel": call.kernel, "kind": call.kind, "candidate": call.candidate,
            "outcome": outcome, "seconds": round(call.seconds, 3), "tokens_in": call.tokens_in,
            "tokens_out": call.tokens_out, "cached": call.cached, "cut": getattr(call, "cut", ""),
            "why": why.splitlines()[0][:200] if why else ""}


def model_summary(calls: list[Any], evaluations: dict[str, Evaluation], *, model: str = "",
                  noise_factor: float = 1.0) -> dict[str, Any]:
    """Every model call of a run and its outcome, with totals (calls, seconds, tokens, cut replies)."""
    entries = [call_entry(c, call_outcome(c, evaluations, noise_factor)) for c in calls]
    return {"model": model, "calls": len(entries),
            "outcomes": dict(Counter(e["outcome"] for e in entries)),
            "seconds": round(sum(e["seconds"] for e in entries if not e["cached"]), 3),
            "tokens_out": sum(e["tokens_out"] for e in entries if not e["cached"]),
            "cut": sum(1 for e in entries if e["cut"]), "list": entries}
