"""A forecast from the model server: one more predictor of a candidate's time, off by default.

With ``perfmodel.llm_forecast`` on and a model server reachable, a port asks the model, for each
candidate the performance model predicted, how long the candidate takes at the primary bench point. It
is given the kernel's source, the target's specs, the work (bytes, FLOPs), the compiler's resource
report and the performance model's own estimate, and answers with one number. The answer never decides
anything in the run that asked: it is recorded with the candidate's prediction (``forecast_ms``) and in
the run's model calls (kind ``forecast``), and ``portkern model eval`` measures it on the GPU timings
like the model itself (Spearman rho within a kernel's candidates, beside the model's on the same
candidates), so whether it is worth a place in the model is decided by the measurements.
"""

from __future__ import annotations

import math
import re
import unicodedata
from typing import Any

from portkern.library import KernelSpec
from portkern.model import ResourceReport, Target

KIND = "forecast"
SOURCE_CHARS = 6000          # the source is cut there (a forecast needs the loops, not every helper)
MAX_TOKENS = 64
_ANSWER = re.compile(r"TIME_MS\s*[:=]\s*([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)")


def enabled(config: dict[str, Any]) -> bool:
    return bool((config.get("perfmodel") or {}).get("llm_forecast", False))


def max_calls(config: dict[str, Any]) -> int:
    return max(0, int((config.get("perfmodel") or {}).get("llm_forecast_max_calls", 0)))


def prompt(kernel: KernelSpec, target: Target, sizes: dict[str, int], dtype: str, predicted_ms: float,
           resources: ResourceReport | None, source: str, bytes_moved: float = 0.0, flops: float = 0.0) -> str:
    res = "unknown"
    if resources is not None:
        res = (f"{resources.registers} registers per thread, {resources.shared_bytes} bytes of shared memory, "
               f"{resources.spill_bytes} bytes spilled, occupancy {resources.occupancy_fraction:.2f}")
    text = source if len(source) <= SOURCE_CHARS else source[:SOURCE_CHARS] + "\n// ... (cut)\n"
    return (
        f"Forecast the GPU time of one launch sequence of the kernel below on {target.name} "
        f"({target.vendor.upper()} {target.arch}, {target.compute_units} compute units, wavefront "
        f"{target.wavefront}, {target.peak_bandwidth_gbs:g} GB/s memory bandwidth).\n"
        f"Problem: kernel '{kernel.name}', sizes {sizes}, dtype {dtype}; it must move {bytes_moved:.4g} bytes "
        f"and do {flops:.4g} floating-point operations.\n"
        f"Compiler report: {res}.\n"
        f"An analytic model estimates {predicted_ms:.4g} ms.\n"
        "Answer with one line and nothing else: TIME_MS: <milliseconds>\n\n"
        f"```\n{text}\n```\n")


def parse(reply: str) -> float | None:
    """The forecast in a reply (``TIME_MS: <number>``), or None: no such line, not a positive finite
    number. Digits in other scripts and full-width forms are read as their ASCII equivalents."""
    text = unicodedata.normalize("NFKC", reply or "")
    m = _ANSWER.search(text)
    if not m:
        return None
    try:
        value = float(m.group(1))
    except ValueError:
        return None
    return value if math.isfinite(value) and value > 0 else None


def check(reply: str):
    from portkern.llm.client import ReplyVerdict

    value = parse(reply)
    if value is None:
        return ReplyVerdict(False, "no 'TIME_MS: <positive number>' line in the reply")
    return ReplyVerdict(True, "", code=repr(value))


def ask(llm: Any, kernel: KernelSpec, target: Target, evaluation: Any, *, time_limit_s: float | None = None) -> float | None:
    """The model's forecast for ``evaluation``'s candidate at its predicted point, or None (no
    prediction to anchor it, a reply without a number, or a transport failure: each is recorded)."""
    from portkern.errors import ModelError
    from portkern.harness.roofline import work_of

    pred = evaluation.prediction or {}
    if not pred.get("ms") or not pred.get("sizes"):
        return None
    sizes, dtype = dict(pred["sizes"]), str(pred.get("dtype") or kernel.dtypes[0])
    params = {**kernel.defaults, **(evaluation.candidate.params or {})}
    try:
        work = work_of(kernel, sizes, dtype, params)
        moved, flops = float(work.bytes_moved), float(work.flops)
    except Exception:  # noqa: BLE001 - a manifest formula that does not evaluate leaves the work unknown
        moved = flops = 0.0
    text = prompt(kernel, target, sizes, dtype, float(pred["ms"]), evaluation.resources,
                  evaluation.candidate.source or "", moved, flops)
    try:
        answer = llm.ask(KIND, text, check=check, max_tokens=MAX_TOKENS, temperature=0.0,
                         kernel=kernel.name, candidate=evaluation.candidate.id, time_limit_s=time_limit_s)
    except ModelError:
        return None
    return float(answer.code) if answer.accepted and answer.code else None
