"""Rendering the prompt templates kept as files in ``portkern/prompts/<kind>.md``.

Templates use ``${name}`` placeholders (``string.Template``) so that the braces of C++ code in a
template need no escaping. Builders here turn typed results (compile logs, validation results,
resource reports, bench results, targets) into the values a template asks for.
"""

from __future__ import annotations

import re
import string
from importlib import resources
from typing import Any

from portkern.errors import ConfigError
from portkern.llm.replies import ALLOWED_INCLUDES, COMMON_INCLUDES
from portkern.model import BenchResult, ResourceReport, Target, ValidationResult

KINDS = ("translate", "repair-compile", "repair-validation", "optimize")
DIALECT_NAMES = {"hip": "HIP", "cuda": "CUDA"}
MAX_ERROR_LINES = 20
REGION_LINES = 4                         # lines of context either side of the line an error points at
MAX_MISMATCHES = 8


def template_text(name: str) -> str:
    try:
        return resources.files("portkern.prompts").joinpath(f"{name}.md").read_text()
    except FileNotFoundError as exc:
        raise ConfigError(f"no prompt template '{name}' (portkern/prompts/{name}.md)",
                          hint=f"prompt kinds: {', '.join(KINDS)}") from exc


def render(name: str, **values: Any) -> str:
    try:
        return string.Template(template_text(name)).substitute({k: str(v) for k, v in values.items()}).strip() + "\n"
    except KeyError as exc:
        raise ConfigError(f"prompt template '{name}' needs a value for ${{{exc.args[0]}}}") from exc


def _target_words(target: Target) -> dict[str, Any]:
    amd = target.vendor == "amd"
    return {"target_display": target.display_name, "target_arch": target.arch, "wavefront": target.wavefront,
            "wave_word": "wavefront" if amd else "warp", "shared_word": "LDS" if amd else "shared memory",
            "cu_word": "CU" if amd else "SM"}


def _rules(symbol: str, dialect: str) -> str:
    includes = ", ".join(f"<{h}>" for h in ALLOWED_INCLUDES.get(dialect, ()) + COMMON_INCLUDES)
    return render("rules", symbol=symbol, dialect=dialect, includes=includes).strip()


def translate_prompt(*, original: str, rules_output: str, hazards: list[dict[str, Any]], symbol: str,
                     source_dialect: str, target: Target) -> str:
    lines = []
    for h in hazards or []:
        where = f"line {h['line']}: " if h.get("line") else ""
        lines.append(f"- {where}{h.get('kind', 'hazard')}: {h.get('message', h.get('detail', ''))}".rstrip(": "))
    source_wave = 64 if source_dialect == "hip" else 32
    return render("translate", original=original.rstrip(), rules_output=rules_output.rstrip(),
                  hazards="\n".join(lines) or "- (none reported; check wave-width assumptions anyway)",
                  source_dialect_name=DIALECT_NAMES.get(source_dialect, source_dialect),
                  target_dialect_name=DIALECT_NAMES.get(target.dialect, target.dialect),
                  source_wavefront=source_wave, source_wave_word="wavefront" if source_dialect == "hip" else "warp",
                  shared_kib=target.shared_bytes_per_block // 1024, rules=_rules(symbol, target.dialect),
                  **_target_words(target))


def error_lines(log: str) -> list[int]:
    """Line numbers the compiler's errors point at (clang and nvcc formats), in order."""
    found = []
    for m in re.finditer(r"(?:^|\s)[^\s:()]+(?::(\d+):\d+:|\((\d+)\):)\s*(?:fatal )?error", log, re.M):
        found.append(int(m.group(1) or m.group(2)))
    return found


def source_region(source: str, line: int, context: int = REGION_LINES) -> str:
    lines = source.splitlines()
    lo, hi = max(1, line - context), min(len(lines), line + context)
    return "\n".join(f"{n:4d}{'>' if n == line else ' '} {lines[n - 1]}" for n in range(lo, hi + 1))


def repair_compile_prompt(*, source: str, log: str, symbol: str, target: Target, compiler: str = "") -> str:
    errors = [ln for ln in log.splitlines() if "error" in ln.lower()][:MAX_ERROR_LINES] or log.splitlines()[:MAX_ERROR_LINES]
    at = error_lines(log)
    region = source_region(source, at[0]) if at else "(the compiler named no line)"
    return render("repair-compile", source=source.rstrip(), errors="\n".join(errors), region=region,
                  compiler=compiler or "(unknown)", dialect_name=DIALECT_NAMES.get(target.dialect, target.dialect),
                  rules=_rules(symbol, target.dialect), **_target_words(target))


def repair_validation_prompt(*, source: str, validation: ValidationResult, symbol: str, target: Target) -> str:
    failing = next((c for c in validation.cases if not c.passed), None)
    sample = []
    if failing is not None:
        for m in failing.mismatch_sample[:MAX_MISMATCHES]:
            sample.append("- " + ", ".join(f"{k}={v}" for k, v in m.items()))
    case = failing.to_dict() if failing else {}
    return render("repair-validation", source=source.rstrip(), device=validation.device,
                  sizes=case.get("sizes", {}), dtype=case.get("dtype", "?"), seed=case.get("seed", "?"),
                  failure=case.get("failure") or validation.failure or "mismatch",
                  detail=f" ({case.get('detail') or validation.detail})" if (case.get("detail") or validation.detail) else "",
                  max_abs_error=f"{case.get('max_abs_error', 0.0):.3g}", max_rel_error=f"{case.get('max_rel_error', 0.0):.3g}",
                  atol=f"{case.get('atol', 0.0):.3g}", rtol=f"{case.get('rtol', 0.0):.3g}",
                  passed_cases=sum(c.passed for c in validation.cases), total_cases=len(validation.cases),
                  mismatch_sample="\n".join(sample) or "- (no sample recorded)",
                  dialect_name=DIALECT_NAMES.get(target.dialect, target.dialect),
                  rules=_rules(symbol, target.dialect), **_target_words(target))


def roofline_position(target: Target, dtype: str, bytes_moved: float, flops: float) -> dict[str, Any]:
    """Arithmetic intensity against the target's ridge point, and the attainable time in ms."""
    peak_flops = target.peak_flops_for(dtype)
    bandwidth = target.peak_bandwidth_gbs * 1e9
    intensity = flops / bytes_moved if bytes_moved > 0 else float("inf")
    ridge = peak_flops / bandwidth
    attainable_s = max(bytes_moved / bandwidth, flops / peak_flops)
    return {"intensity": intensity, "ridge": ridge, "memory_bound": intensity < ridge,
            "attainable_ms": attainable_s * 1e3, "peak_flops": peak_flops}


def _resources_text(res: ResourceReport | None, target: Target) -> str:
    if res is None:
        return "- (no resource report)"
    regs = f"{res.registers} VGPRs" if target.vendor == "amd" else f"{res.registers} registers"
    extra = f", {res.sgprs} SGPRs" if res.sgprs else ""
    lines = [f"- {regs}{extra} per thread, {res.shared_bytes} bytes static {_target_words(target)['shared_word']}",
             f"- spills: {res.spill_bytes}, scratch/local {res.local_bytes} bytes per thread"]
    if res.occupancy_fraction:
        lines.append(f"- occupancy {res.occupancy_fraction:.0%}"
                     + (f", limited by {res.occupancy_limiter}" if res.occupancy_limiter else ""))
    return "\n".join(lines)


def optimize_prompt(*, source: str, symbol: str, target: Target, dtype: str, sizes: dict[str, int],
                    bytes_moved: float, flops: float, bench: BenchResult | None = None,
                    resources: ResourceReport | None = None, tunables: dict[str, list[int]] | None = None,
                    profile: dict[str, Any] | None = None, settled: bool = False) -> str:
    """Workload-aware optimisation prompt. ``profile`` (counter readings) is shown only when ``settled``:
    the kernel is correct and its structure has stopped changing, so fine details can no longer mislead."""
    pos = roofline_position(target, dtype, bytes_moved, flops)
    median_ms = bench.median_ms if bench else 0.0
    fraction = bench.roofline_fraction if bench and bench.roofline_fraction else (
        pos["attainable_ms"] / median_ms if median_ms > 0 else 0.0)
    if pos["memory_bound"]:
        bound, focus = "memory-bound", ("Focus on bytes moved: coalesced, vectorised loads and stores, no redundant "
                                        "reads, enough bytes in flight per CU/SM to cover latency.")
        achieved = f"{bench.gbs:.0f} GB/s" if bench and bench.gbs else "achieved bandwidth unknown"
    else:
        bound, focus = "compute-bound", ("Focus on FLOP throughput: data reuse in registers and "
                                         f"{_target_words(target)['shared_word']}, fewer instructions per FLOP, "
                                         "occupancy high enough to hide latency.")
        achieved = f"{bench.gflops:.0f} GFLOP/s" if bench and bench.gflops else "achieved FLOP rate unknown"
    profile_text = ""
    if settled and profile:
        profile_text = "\nProfile of the current build:\n" + "\n".join(f"- {k}: {v}" for k, v in profile.items())
    intensity = "inf" if pos["intensity"] == float("inf") else f"{pos['intensity']:.3g}"
    return render("optimize", source=source.rstrip(), dtype=dtype, sizes=sizes, bytes_moved=f"{bytes_moved:.4g}",
                  flops=f"{flops:.4g}", intensity=intensity, ridge=f"{pos['ridge']:.3g}", bound=bound,
                  timing=(f"measured {median_ms:.4g} ms ({bench.method}), {achieved}: {100 * fraction:.0f}% of the "
                          "attainable roofline") if bench and median_ms > 0 else "not timed yet",
                  resources=_resources_text(resources, target),
                  profile=profile_text, focus=focus,
                  tunables=", ".join(f"{k} in {v}" for k, v in (tunables or {}).items()) or "(none)",
                  compute_units=target.compute_units, max_threads_per_block=target.max_threads_per_block,
                  shared_kib_block=target.shared_bytes_per_block // 1024,
                  shared_kib_cu=target.shared_bytes_per_cu // 1024, registers_per_cu=target.registers_per_cu,
                  max_registers_per_thread=target.max_registers_per_thread,
                  peak_bandwidth_gbs=f"{target.peak_bandwidth_gbs:g}", peak_tflops=f"{pos['peak_flops'] / 1e12:g}",
                  dialect_name=DIALECT_NAMES.get(target.dialect, target.dialect),
                  rules=_rules(symbol, target.dialect), **_target_words(target))
