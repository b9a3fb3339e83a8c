"""The performance model inside a port: predictions for candidates, and the gate that decides which
candidates are worth validating and timing."""

from __future__ import annotations

import functools
import hashlib
import math
import os
from typing import Any

from portkern.library import KernelSpec
from portkern.model import BenchResult, ResourceReport, Target
from portkern.perfmodel.model import MODEL_ENV, PerfModel, Prediction

RULED_OUT = "ruled-out"


@functools.lru_cache(maxsize=4)
def _load(chosen: str) -> PerfModel:
    return PerfModel.load(chosen or None)


def current_model(target: Target | None = None) -> PerfModel:
    """The model a port uses: ``$PORTKERN_PERFMODEL``, else the shipped one, else analytic only; for a
    target, as it applies to the target's vendor (``PerfModel.for_vendor``)."""
    model = _load(os.environ.get(MODEL_ENV, "").strip())
    return model.for_vendor(target.vendor) if target is not None else model


def model_id(model: PerfModel | None = None) -> str:
    """A short identity of the model's content (part of cache keys of predicted timings)."""
    model = model or current_model()
    if model.gbm is None:
        return "analytic"
    import json

    return hashlib.sha256(json.dumps(model.to_dict(), sort_keys=True).encode()).hexdigest()[:16]


def describe(model: PerfModel, target: Target) -> str:
    """One line for summaries and reports: what the model is and how far to trust it here."""
    if not model.calibrated:
        return ("performance model: analytic only (no fitted model): it ranks candidates but has no "
                "calibrated interval, so no candidate is selected on a prediction")
    t = model.trained_on
    devices = ", ".join(t.get("devices", [])) or "unknown devices"
    line = (f"performance model: fitted on {t.get('rows', 0)} GPU timing(s) of {len(t.get('kernels', []))} "
            f"kernel(s) on {devices}; 90% interval of a speedup x/÷ {math.exp(model.q_pair):.2f}")
    trained_vendors = set(model.vendors)
    vendor_word = {"amd": "amd", "nvidia": "nvidia"}.get(target.vendor, target.vendor)
    if trained_vendors and vendor_word not in trained_vendors:
        line += (f"; calibrated on {'/'.join(sorted(trained_vendors)).upper()} measurements, not on "
                 f"{target.vendor.upper()} ones: its {target.name}-specific parts (wave {target.wavefront}, "
                 f"{target.compute_units} CUs, LDS and bandwidth from the targets file) are analytic")
        if t.get("applied_scope") == "point":
            line += (f", and a kernel's candidates rank as the analytic part ranks them (the correction learned "
                     f"from {'/'.join(sorted(trained_vendors)).upper()} compilers' features is applied per bench "
                     f"point only)")
    return line


def predict_point(kernel: KernelSpec, sizes: dict[str, int], dtype: str, target: Target, compiled: dict[str, Any],
                  params: dict[str, int] | None, source: str, model: PerfModel | None = None) -> Prediction:
    from portkern.perfmodel.features import features, resources_for

    model = model or current_model(target)
    res = resources_for(compiled or {}, kernel, sizes, dtype, params)
    return model.predict(features(kernel, sizes, dtype, target, res, params, source))


def estimate_result(kernel: KernelSpec, sizes: dict[str, int], dtype: str, target: Target, compiled: dict[str, Any],
                    params: dict[str, int] | None, source: str) -> BenchResult:
    """The predicted timing of a compiled candidate (its compile payload, for the resource report)."""
    from portkern.perfmodel.features import resources_for

    return predicted_result(kernel, sizes, dtype, target, resources_for(compiled or {}, kernel, sizes, dtype, params),
                            params, source)


def predicted_result(kernel: KernelSpec, sizes: dict[str, int], dtype: str, target: Target,
                     resources: ResourceReport | None, params: dict[str, int] | None = None,
                     source: str = "") -> BenchResult:
    """A predicted timing, labelled method "estimate". Its spread is the share of the time a rival
    must undercut it by for the predicted speedup's whole interval to lie above 1.0x (the selection
    rule compares against spreads); uncalibrated, that is the whole time: nothing beats it."""
    from portkern.harness import roofline
    from portkern.perfmodel.features import features

    model = current_model(target)
    p = model.predict(features(kernel, sizes, dtype, target, resources, params, source))
    spread = p.ms * (1.0 - math.exp(-model.q_pair)) if model.calibrated else p.ms
    result = BenchResult(kernel=kernel.name, sizes=dict(sizes), dtype=dtype, method="estimate",
                         device=f"{target.display_name} (predicted, no device)", median_ms=p.ms, spread_ms=spread,
                         trials=0, flags=["estimate"], predicted_lo_ms=p.lo_ms,
                         predicted_hi_ms=p.hi_ms if math.isfinite(p.hi_ms) else 0.0,
                         model=model.path or "analytic")
    return roofline.fill_figures(result, roofline.work_of(kernel, sizes, dtype, params), target)


def decide(pred_ms: float, gate: dict[str, Any] | None, model: PerfModel | None = None) -> tuple[bool, str]:
    """Whether a candidate predicted at ``pred_ms`` must be validated and timed.

    ``gate`` names the reference it must be able to beat: its predicted time at the same point
    (``ref_ms``) and id. A candidate is ruled out only by a calibrated model, and only when the whole
    interval of its predicted speedup over the reference lies below 1.0x."""
    model = model or current_model()
    if not gate or gate.get("ref_ms", 0) <= 0:
        return True, "no reference to compare with"
    s, lo, hi = model.speedup(float(gate["ref_ms"]), pred_ms)
    ref = gate.get("ref_id", "the reference")
    if not model.calibrated:
        return True, f"predicted {s:.2f}x over {ref} (uncalibrated: kept)"
    if hi < 1.0:
        return False, f"predicted {s:.2f}x over {ref}, 90% interval {lo:.2f}-{hi:.2f}x: cannot beat it"
    return True, f"predicted {s:.2f}x over {ref}, 90% interval {lo:.2f}-{hi:.2f}x"
