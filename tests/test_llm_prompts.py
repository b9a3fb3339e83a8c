"""Prompt templates are files; builders fill them from typed results."""

from __future__ import annotations

from importlib import resources

import pytest

from portkern.errors import ConfigError
from portkern.llm import prompts
from portkern.model import BenchResult, CaseResult, ResourceReport, ValidationResult
from portkern.targets import get_target

UNIT = "#include <hip/hip_runtime.h>\n__global__ void k(int n, float* x)\n{\n    x[threadIdx.x] = n;\n}\n"


def test_every_prompt_kind_is_a_file():
    for kind in prompts.KINDS:
        assert resources.files("portkern.prompts").joinpath(f"{kind}.md").is_file()
    with pytest.raises(ConfigError, match="no prompt template"):
        prompts.render("no-such-kind")


def test_translate_prompt_names_hazards_and_the_wave_width():
    text = prompts.translate_prompt(original=UNIT.replace("hip/hip_runtime.h", "cuda_runtime.h"), rules_output=UNIT,
                                    hazards=[{"line": 4, "kind": "warp-size", "message": "mask assumes 32 lanes"}],
                                    symbol="k", source_dialect="cuda", target=get_target("mi300x"))
    assert "line 4: warp-size: mask assumes 32 lanes" in text
    assert "64-lane wavefronts" in text and "32-lane warp" in text
    assert "<hip/hip_runtime.h>" in text and "${" not in text


def test_repair_compile_prompt_shows_the_region_the_error_points_at():
    log = "unit.hip:4:20: error: use of undeclared identifier 'm'\n1 error generated.\n"
    text = prompts.repair_compile_prompt(source=UNIT, log=log, symbol="k", target=get_target("mi300x"))
    assert "   4>     x[threadIdx.x] = n;" in text
    assert "undeclared identifier" in text
    nvcc = 'kernel.cu(12): error: identifier "m" is undefined'
    assert prompts.error_lines(nvcc) == [12]


def test_repair_validation_prompt_carries_the_failing_case():
    case = CaseResult(sizes={"n": 1000}, dtype="float32", seed=3, passed=False, max_abs_error=0.5, max_rel_error=0.25,
                      atol=1e-5, rtol=1e-5, failure="mismatch",
                      mismatch_sample=[{"arg": "x", "index": 999, "expected": 1.0, "got": 0.5}])
    ok = CaseResult(sizes={"n": 256}, dtype="float32", seed=3, passed=True)
    val = ValidationResult(kernel="k", backend="emu", device="cpu-emulator (wave64)", wavefront=64, passed=False,
                           cases=[ok, case], failure="mismatch")
    text = prompts.repair_validation_prompt(source=UNIT, validation=val, symbol="k", target=get_target("mi300x"))
    assert "sizes {'n': 1000}, dtype float32, seed 3" in text
    assert "max abs error 0.5" in text and "index=999" in text and "Cases passed: 1 of 2" in text


def test_optimize_prompt_is_workload_aware_and_hides_the_profile_until_settled():
    mi300x = get_target("mi300x")
    bench = BenchResult(kernel="k", sizes={"n": 1 << 24}, dtype="float32", method="device-events", device="MI300X",
                        median_ms=0.1, spread_ms=0.001, gbs=2000.0, roofline_fraction=0.4)
    res = ResourceReport(symbol="k", registers=24, sgprs=16, occupancy_fraction=0.5, occupancy_limiter="registers")
    common = dict(source=UNIT, symbol="k", target=mi300x, dtype="float32", sizes={"n": 1 << 24},
                  bytes_moved=12.0 * (1 << 24), flops=2.0 * (1 << 24), bench=bench, resources=res,
                  tunables={"NB": [64, 256]}, profile={"VALUBusy": "12%"})
    early = prompts.optimize_prompt(**common, settled=False)
    late = prompts.optimize_prompt(**common, settled=True)
    assert "memory-bound" in early and "40% of the attainable roofline" in early
    assert "64-lane wavefronts, 304 CUs" in early and "24 VGPRs" in early and "limited by registers" in early
    assert "NB in [64, 256]" in early
    assert "VALUBusy" not in early and "VALUBusy: 12%" in late
    gemm = prompts.optimize_prompt(**{**common, "flops": 2.0 * 4096 ** 3, "bytes_moved": 3 * 4.0 * 4096 ** 2,
                                      "target": get_target("h100")})
    assert "compute-bound" in gemm and "32-lane warps" in gemm and "shared memory" in gemm


def test_roofline_position_uses_the_target_figures():
    pos = prompts.roofline_position(get_target("mi300x"), "float32", bytes_moved=1e9, flops=1e8)
    assert pos["memory_bound"] and pos["attainable_ms"] == pytest.approx(1e9 / 5300e9 * 1e3)
