"""The dataset's configs: which records each holds, as which columns (Hugging Face ``datasets`` features).

One config per use: ``sft`` (chat conversations), ``preference`` (chosen/rejected pairs), ``performance``
(measured times only), ``repair``, ``optimization``, plus ``performance_predicted`` (roofline estimates,
kept apart so that nobody trains on them by accident) and ``hard_cases`` (translations the rules could
not verify). Every row of every config carries the same ``provenance`` struct.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SYSTEM = ("You are an expert GPU kernel engineer. You write correct, fast CUDA and HIP device code and keep "
          "each kernel's name and signature.")

PROVENANCE_FIELDS = ("run_id", "library", "kernel", "family", "file", "file_sha256", "license", "source_dialect",
                     "target_dialect", "target", "toolchain", "device", "date")


def _features(columns: dict[str, Any]):
    import datasets

    s = datasets.Value("string")
    cols = {"record_id": s, **columns, "provenance": {k: s for k in PROVENANCE_FIELDS}}
    return datasets.Features(cols)


def _fence(code: str) -> str:
    return f"```cpp\n{code.rstrip()}\n```"


def _dialect(d: str) -> str:
    return d.upper()


def _sft_row(rec: dict[str, Any]) -> dict[str, Any] | None:
    kind, t = rec["record_type"], rec["target"]
    evidence = ""
    timing = "not-timed"
    if kind == "translation" and rec["verified"]:
        user = (f"Translate this {_dialect(rec['source_dialect'])} kernel to {_dialect(rec['target_dialect'])} "
                f"for the {t} target. Keep the kernel's name and signature.\n\n{_fence(rec['source_code'])}")
        answer = _fence(rec["target_code"])
        evidence = f"compiled for {t}; validated on {rec['verdict']['validation_device'] or 'unknown device'}"
    elif kind == "repair":
        user = (f"This {_dialect(rec['dialect'])} kernel fails ({rec['error_kind']}):\n{rec['error']}\n\n"
                f"Fix it.\n\n{_fence(rec['broken_code'])}")
        answer = _fence(rec["fixed_code"])
        evidence = f"fix validated on {rec['verdict']['validation_device'] or 'unknown device'}"
    elif kind == "optimization" and rec["timing_kind"] == "measured":
        change = rec["change"]
        timing = "measured"
        evidence = (f"measured {rec['speedup']:.3g}x (+/- {rec['speedup_spread']:.2g}) on {rec['device']}")
        if change["kind"] == "parameters":
            params = json.dumps(rec["before_params"], sort_keys=True)
            user = (f"This {_dialect(rec['dialect'])} kernel runs with the tunable parameters {params} on {t}. "
                    f"Which values make it faster without changing its results?\n\n{_fence(rec['before_code'])}")
            answer = (f"Use {json.dumps(rec['after_params'], sort_keys=True)} ({change['description']}); "
                      f"{evidence}.")
        else:
            user = (f"Make this {_dialect(rec['dialect'])} kernel faster on {t} without changing its results."
                    f"\n\n{_fence(rec['before_code'])}")
            answer = _fence(rec["after_code"])
    else:
        return None
    return {"messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user},
                         {"role": "assistant", "content": answer}],
            "task": kind, "evidence": evidence, "timing_kind": timing}


def _preference_row(rec: dict[str, Any]) -> dict[str, Any]:
    return {"prompt": rec["prompt"], "chosen": rec["chosen"], "rejected": rec["rejected"],
            "margin": float(rec["margin"]), "ranking_basis": rec["ranking_basis"],
            "timing_kind": "measured" if rec["ranking_basis"] == "speed" else "not-timed"}


def _performance_row(rec: dict[str, Any]) -> dict[str, Any]:
    f, t = rec["features"], rec["timing"]
    return {"dialect": rec["dialect"], "code": rec["code"], "params": json.dumps(rec["params"], sort_keys=True),
            "sizes": json.dumps(rec["sizes"], sort_keys=True), "dtype": rec["dtype"],
            "registers": int(f.get("registers", 0)), "shared_bytes": int(f.get("shared_bytes", 0)),
            "spill_bytes": int(f.get("spill_bytes", 0)), "occupancy_fraction": float(f.get("occupancy_fraction", 0.0)),
            "median_ms": float(t["median_ms"]), "spread_ms": float(t["spread_ms"]), "method": t["method"],
            "timing_kind": rec["timing_kind"], "roofline_fraction": float(t.get("roofline_fraction", 0.0)),
            "correct": bool(rec["correct"])}


def _repair_row(rec: dict[str, Any]) -> dict[str, Any]:
    return {"dialect": rec["dialect"], "broken_code": rec["broken_code"], "error_kind": rec["error_kind"],
            "error": rec["error"], "fixed_code": rec["fixed_code"],
            "validation_device": rec["verdict"].get("validation_device", "")}


def _optimization_row(rec: dict[str, Any]) -> dict[str, Any]:
    c = rec["change"]
    return {"dialect": rec["dialect"], "before_code": rec["before_code"], "after_code": rec["after_code"],
            "before_params": json.dumps(rec["before_params"], sort_keys=True),
            "after_params": json.dumps(rec["after_params"], sort_keys=True), "speedup": float(rec["speedup"]),
            "speedup_spread": float(rec["speedup_spread"]), "method": rec["method"], "timing_kind": rec["timing_kind"],
            "change_kind": c["kind"], "change": c["description"], "operators": list(c["operators"])}


def _hard_case_row(rec: dict[str, Any]) -> dict[str, Any]:
    v = rec["verdict"]
    return {"source_dialect": rec["source_dialect"], "target_dialect": rec["target_dialect"],
            "source_code": rec["source_code"], "attempted_code": rec["target_code"], "reason": rec["hard_case_reason"],
            "compiled": bool(v["compiled"]), "correct": bool(v["correct"]), "errors": list(v.get("errors", [])),
            "hazards": json.dumps(rec["hazards"], sort_keys=True)}


@dataclass(frozen=True)
class ConfigSpec:
    name: str
    description: str
    accepts: Callable[[dict[str, Any]], bool]
    row: Callable[[dict[str, Any]], dict[str, Any] | None]
    columns: Callable[[], dict[str, Any]]
    default: bool = False


def _str():
    import datasets

    return datasets.Value("string")


def _v(kind: str):
    import datasets

    return datasets.Value(kind)


def _cols_sft():
    return {"messages": [{"role": _str(), "content": _str()}], "task": _str(), "evidence": _str(),
            "timing_kind": _str()}


def _cols_preference():
    return {"prompt": _str(), "chosen": _str(), "rejected": _str(), "margin": _v("float64"),
            "ranking_basis": _str(), "timing_kind": _str()}


def _cols_performance():
    return {"dialect": _str(), "code": _str(), "params": _str(), "sizes": _str(), "dtype": _str(),
            "registers": _v("int64"), "shared_bytes": _v("int64"), "spill_bytes": _v("int64"),
            "occupancy_fraction": _v("float64"), "median_ms": _v("float64"), "spread_ms": _v("float64"),
            "method": _str(), "timing_kind": _str(), "roofline_fraction": _v("float64"), "correct": _v("bool")}


def _cols_repair():
    return {"dialect": _str(), "broken_code": _str(), "error_kind": _str(), "error": _str(), "fixed_code": _str(),
            "validation_device": _str()}


def _cols_optimization():
    return {"dialect": _str(), "before_code": _str(), "after_code": _str(), "before_params": _str(),
            "after_params": _str(), "speedup": _v("float64"), "speedup_spread": _v("float64"), "method": _str(),
            "timing_kind": _str(), "change_kind": _str(), "change": _str(), "operators": [_str()]}


def _cols_hard_cases():
    return {"source_dialect": _str(), "target_dialect": _str(), "source_code": _str(), "attempted_code": _str(),
            "reason": _str(), "compiled": _v("bool"), "correct": _v("bool"), "errors": [_str()], "hazards": _str()}


def _model_call_row(rec: dict[str, Any]) -> dict[str, Any]:
    return {"kernel": rec["provenance"]["kernel"], "kind": rec["kind"], "model": rec["model"],
            "prompt": rec["prompt"], "reply": rec["reply"], "params": json.dumps(rec["params"], sort_keys=True),
            "outcome": rec["outcome"], "cut": rec["cut"], "reject_reason": rec["reject_reason"],
            "error": rec["error"], "tokens_in": rec["tokens_in"], "tokens_out": rec["tokens_out"],
            "seconds": float(rec["seconds"])}


def _cols_model_calls():
    return {"kernel": _str(), "kind": _str(), "model": _str(), "prompt": _str(), "reply": _str(), "params": _str(),
            "outcome": _str(), "cut": _str(), "reject_reason": _str(), "error": _str(), "tokens_in": _v("int64"),
            "tokens_out": _v("int64"), "seconds": _v("float64")}


CONFIGS: tuple[ConfigSpec, ...] = (
    ConfigSpec("sft", "chat conversations (system/user/assistant): verified translations, validated repairs, "
               "measured optimizations", lambda r: r["record_type"] in ("translation", "repair", "optimization"),
               _sft_row, _cols_sft, default=True),
    ConfigSpec("preference", "two answers to one prompt, the chosen one better by a measurement (validation, or "
               "device timings apart by more than their spreads)", lambda r: r["record_type"] == "preference",
               _preference_row, _cols_preference),
    ConfigSpec("performance", "kernel source, parameters, compile-time features and a time measured on a GPU",
               lambda r: r["record_type"] == "performance" and r["timing_kind"] == "measured",
               _performance_row, _cols_performance),
    ConfigSpec("repair", "a failing kernel and its error, and the fix that passed validation",
               lambda r: r["record_type"] == "repair", _repair_row, _cols_repair),
    ConfigSpec("optimization", "slow -> fast pairs whose speedup lies beyond the timing noise, with what made it "
               "(timing_kind says whether the times were measured or predicted)",
               lambda r: r["record_type"] == "optimization", _optimization_row, _cols_optimization),
    ConfigSpec("performance_predicted", "as performance, but the time is a roofline prediction, not a measurement",
               lambda r: r["record_type"] == "performance" and r["timing_kind"] == "predicted",
               _performance_row, _cols_performance),
    ConfigSpec("model_calls", "every request to the model, its reply and what became of it (failed, no code, "
               "does not compile, wrong, slower, not faster, faster, correct, not evaluated)",
               lambda r: r["record_type"] == "model_call", _model_call_row, _cols_model_calls),
    ConfigSpec("hard_cases", "translations that failed validation or kept hazards the rules could not fix",
               lambda r: r["record_type"] == "translation" and not r["verified"], _hard_case_row, _cols_hard_cases),
)


def config_rows(spec: ConfigSpec, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The config's rows, each with its record id, provenance and split (``split`` is removed on write)."""
    out = []
    for rec in records:
        if not spec.accepts(rec):
            continue
        row = spec.row(rec)
        if row is None:
            continue
        prov = rec["provenance"]
        out.append({"record_id": rec["record_id"], **row,
                    "provenance": {k: str(prov.get(k, "")) for k in PROVENANCE_FIELDS}, "split": rec["split"]})
    return out


def features(spec: ConfigSpec):
    return _features(spec.columns())
