"""The harness on the CPU emulator: honest kernels pass, every adversarial kernel is rejected.

Each kernel is compiled by the emulator backend (a real C++ compiler) and run in a worker process.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from portkern.harness import validate
from portkern.harness.inputs import make_case
from portkern.harness.runners.base import get_runner
from portkern.harness.validate import public_seed
from portkern.library import load_library
from portkern.model import CompileOptions
from portkern.targets import get_target

ADVERSARIAL = Path(__file__).parent / "adversarial"

# What must reject each adversarial kernel (the failure cause the harness reports).
EXPECTED_REJECTION = {
    # Inputs sit on read-only pages on the emulator: the write faults (a crash) before it can be seen.
    "mutate_input": {"input-mutated", "crash"},
    "stale_output": {"unwritten"},
    "deferred_work": {"mismatch"},
    "cache_results": {"mismatch"},
    "partial": {"unwritten"},
    "shape_shortcut": {"unwritten"},
    "seed_shortcut": {"mismatch"},
    "nan_output": {"nan"},
    "oob_write": {"out-of-bounds-write"},
    "skip_when_timed": {"unwritten"},
    "mutate_when_timed": {"input-mutated", "crash"},
    "memo_by_buffer": {"unwritten"},
    "beyond_public": {"mismatch"},
    "half_above": {"mismatch"},
    "poison_aware": {"unwritten"},
    "first_launches": {"mismatch"},
    "guard_marker": {"mismatch"},
    "ends_cache": {"mismatch"},
    "zero_wrong": {"mismatch"},
    "scribble_input": {"crash", "launch"},
    "neighbour_race": {"mismatch", "nan", "unwritten"},
}


def _emulator_reason() -> str:
    if importlib.util.find_spec("portkern.worker") is None:
        return "portkern.worker is not present"
    avail = get_runner("emu").available()
    return "" if avail.ok else f"emulator unavailable: {avail.reason}"


pytestmark = pytest.mark.skipif(bool(_emulator_reason()), reason=_emulator_reason() or "emulator available")


@pytest.fixture(scope="module")
def adv():
    return load_library(ADVERSARIAL)


@pytest.fixture(scope="module")
def wave32():
    return get_target("h100")


def seed_fingerprints(adv) -> CompileOptions:
    """The first input element of each public case: what a seed-specific shortcut would memorise."""
    k = adv.kernel("seed_shortcut")
    defines = {}
    for i, sizes in enumerate(k.sizes_validate):
        x0 = make_case(k, sizes, "float32", public_seed(k.name, i)).reference_args["x"][0]
        defines[f"PK_SEEN_X0_{i}"] = float(x0).hex()
    return CompileOptions(defines=defines)


def test_honest_kernel_passes_public_and_hidden_cases(adv, wave32):
    res = validate(adv, "honest_axpby", wave32, runner="emu")
    assert res.passed, res.detail
    assert res.device.startswith("cpu-emulator")
    hidden = [c for c in res.cases if c.detail.startswith("hidden")]
    assert hidden and any(c.sizes["n"] % 2 for c in hidden)


@pytest.mark.parametrize("name", sorted(EXPECTED_REJECTION))
def test_adversarial_kernel_is_rejected_on_the_emulator(adv, wave32, name):
    extra = seed_fingerprints(adv) if name == "seed_shortcut" else None
    res = validate(adv, name, wave32, runner="emu", extra=extra)
    assert not res.passed
    assert res.failure in EXPECTED_REJECTION[name], (res.failure, res.detail)


def test_sanitizer_build_runs_in_its_worker_and_catches_a_far_write(adv, wave32, tmp_path):
    """Guard zones catch writes just past a buffer; AddressSanitizer catches the rest, in the worker."""
    honest = validate(adv, "honest_axpby", wave32, runner="emu", dtypes=["float32"],
                      extra=CompileOptions(sanitize=True))
    assert honest.passed, honest.detail
    far = (ADVERSARIAL / "oob_write.cu").read_text().replace("z[n] = T(0);", "z[n + 100000] = T(0);")
    res = validate(adv, "oob_write", wave32, runner="emu", dtypes=["float32"], source=far,
                   extra=CompileOptions(sanitize=True))
    assert not res.passed and res.failure in ("crash", "launch"), (res.failure, res.detail)


def test_overclaimed_work_is_correct_and_left_to_timing(adv, wave32):
    """Its cheat is the claim, not the values: validation accepts it; only device timing flags it."""
    assert validate(adv, "overclaimed_work", wave32, runner="emu", dtypes=["float32"]).passed


# Stateless shortcuts only: a kernel that keeps state (cache_results, memo_by_buffer) may already be
# caught by what an earlier validation left in a reused worker, so "public only passes" is not stable.
@pytest.mark.parametrize("name", ["shape_shortcut", "seed_shortcut"])
def test_only_the_hidden_cases_catch_shortcuts(adv, wave32, name):
    """Public sizes and seeds alone would accept these kernels: the hidden cases are the defence."""
    extra = seed_fingerprints(adv) if name == "seed_shortcut" else None
    # One dtype: a second dtype at the same sizes would already show a size-keyed cache.
    public_only = validate(adv, name, wave32, runner="emu", hidden=False, extra=extra, dtypes=["float32"])
    assert public_only.passed, public_only.detail
    full = validate(adv, name, wave32, runner="emu", extra=extra, dtypes=["float32"])
    assert not full.passed
    assert all(c.passed for c in full.cases if not c.detail.startswith("hidden"))


@pytest.mark.slow
@pytest.mark.parametrize("kernel", ["axpy", "axpy_strided_batched", "dot", "gemv_n"])
def test_blas_kernels_validate_at_wavefront_64(kernel):
    try:
        lib = load_library("blas")
        lib.kernel(kernel)
    except Exception as exc:  # written separately; its absence is not the harness's failure
        pytest.skip(f"libraries/blas has no kernel '{kernel}': {exc}")
    res = validate(lib, kernel, get_target("mi300x"), runner="emu", dtypes=["float32"])
    assert res.passed, f"{res.failure}: {res.detail}"
    assert res.wavefront == 64 and len(res.cases) > len(lib.kernel(kernel).sizes_validate)


@pytest.mark.parametrize("guard", ["#ifdef PORTKERN_EMU", "#if defined(__CUDA_ARCH__)", "#ifdef __gfx942__",
                                   "#if __HIP_DEVICE_COMPILE__", "#ifndef PORTKERN_EMU_WAVE"])
def test_a_candidate_branching_on_the_emulator_or_architecture_is_rejected(adv, wave32, guard):
    cheat = (ADVERSARIAL / "emu_ifdef.cu").read_text().replace("emu_ifdef", "honest_axpby")
    cheat = cheat.replace("#ifdef PORTKERN_EMU", guard)
    res = validate(adv, "honest_axpby", wave32, runner="emu", source=cheat, dtypes=["float32"])
    assert not res.passed and res.failure == "arch-branch", (res.failure, res.detail)
    assert guard.split()[-1].strip("()").replace("defined(", "") in res.detail


def test_arch_branches_allows_what_the_original_has_and_sees_token_pasting():
    from portkern.harness.validate import arch_branches

    original = "#if __CUDA_ARCH__ >= 700\n#define FAST 1\n#endif\n"
    assert arch_branches(original + "__global__ void k() {}", original) == []
    assert arch_branches("#define CAT(a, b) a##b\n#if CAT(PORTKERN_, EMU)\n#endif\n")
    assert arch_branches("int w = PORTKERN_EMU_WAVE;\n")
    assert arch_branches("__global__ void k(float* x) { x[0] = 1; }\n") == []
    # A translation rewrites the original's test one for one: accepted; one test more is not.
    translated = "#if defined(__HIP_DEVICE_COMPILE__)\n#define FAST 1\n#endif\n"
    assert arch_branches(translated, original) == []
    assert arch_branches(translated + "#ifdef __gfx942__\n#endif\n", original) == ["#ifdef __gfx942__"]
    assert arch_branches("#ifdef PORTKERN_EMU\n#endif\n", original)


def test_emulator_validation_is_labelled_as_such(adv, wave32):
    res = validate(adv, "honest_axpby", wave32, runner="emu", dtypes=["float32"])
    assert res.passed, res.detail
    assert "emulator only" in res.device and wave32.name in res.device


def test_the_neighbour_race_passes_in_order_and_shows_under_another_schedule(adv, wave32):
    from portkern.harness.validate import CasePlan, build, validate_compiled

    kernel = adv.kernel("neighbour_race")
    compiled = build(adv, kernel, wave32)
    cases = [CasePlan({"n": 2048}, "float32", 11, schedule="in-order")]
    in_order = validate_compiled(adv, kernel, compiled, wave32, cases=cases)
    assert in_order.passed, in_order.detail
    for schedule in ("reverse", "shuffle"):
        cases = [CasePlan({"n": 2048}, "float32", 11, schedule=schedule)]
        res = validate_compiled(adv, kernel, compiled, wave32, cases=cases)
        assert not res.passed, schedule


def test_port_validates_emulator_builds_under_addresssanitizer(adv, wave32, monkeypatch):
    """The pipeline's emulator validation builds with ASan where the runtime exists: a far write is caught."""
    from portkern.harness.validate import asan_default
    from portkern.pipeline import harness_adapter

    if not asan_default("emu"):
        pytest.skip("no AddressSanitizer runtime for the host compiler")
    monkeypatch.setenv("PORTKERN_VALIDATE_ASAN", "off")
    assert not asan_default("emu")
    monkeypatch.delenv("PORTKERN_VALIDATE_ASAN")
    kernel = adv.kernel("oob_write")
    far = (ADVERSARIAL / "oob_write.cu").read_text().replace("z[n] = T(0);", "z[n + 100000] = T(0);")
    res = harness_adapter.validate(far, kernel, adv, wave32, {}, {}, False)
    assert not res.passed and res.failure in ("crash", "launch"), (res.failure, res.detail)
    assert "AddressSanitizer" in res.detail or res.failure == "launch", res.detail[-500:]


def test_the_configured_validate_timeout_is_honoured(adv, wave32, monkeypatch):
    import time

    spin = (ADVERSARIAL / "honest.cu").read_text().replace("z[i] = a * x[i] + y[i];",
                                                          "{ volatile int s = 1; while (s) { } }")
    monkeypatch.setenv("PORTKERN_VALIDATE_TIMEOUT_S", "3")
    start = time.monotonic()
    res = validate(adv, "honest_axpby", wave32, runner="emu", source=spin, dtypes=["float32"], hidden=False)
    assert res.failure == "timeout" and "3 s" in res.detail, (res.failure, res.detail)
    assert time.monotonic() - start < 120
