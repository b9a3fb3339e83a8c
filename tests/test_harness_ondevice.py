"""Timing checks on the GPU (bench.check_on): the same inputs and verdicts as on the host.

The CPU part runs everywhere; the rest needs CuPy and a GPU and is skipped without them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from portkern.errors import ConfigError
from portkern.harness import ondevice
from portkern.harness.compare import check_run
from portkern.harness.inputs import VARIANTS, make_case, to_storage
from portkern.harness.references import call_reference, split_magnitudes
from portkern.harness.runners.base import get_runner
from portkern.library import load_library

ADVERSARIAL = Path(__file__).parent / "adversarial"


def test_the_emulator_and_the_host_mode_check_in_numpy(monkeypatch):
    monkeypatch.setenv("PORTKERN_BENCH_CHECK_ON", "auto")
    assert ondevice.check_namespace(get_runner("emu")) is np
    monkeypatch.setenv("PORTKERN_BENCH_CHECK_ON", "host")
    assert ondevice.check_namespace(get_runner("cuda")) is np


def test_an_unknown_mode_is_a_config_error(monkeypatch):
    monkeypatch.setenv("PORTKERN_BENCH_CHECK_ON", "gpu-please")
    with pytest.raises(ConfigError, match="bench.check_on"):
        ondevice.check_namespace(get_runner("cuda"))


def test_device_mode_without_a_reachable_gpu_says_why(monkeypatch):
    monkeypatch.setattr(ondevice, "_device_cupy", lambda: (None, "CuPy is not installed"))
    monkeypatch.setenv("PORTKERN_BENCH_CHECK_ON", "device")
    with pytest.raises(ConfigError, match="CuPy is not installed"):
        ondevice.check_namespace(get_runner("cuda"))
    monkeypatch.setenv("PORTKERN_BENCH_CHECK_ON", "auto")
    assert ondevice.check_namespace(get_runner("cuda")) is np


def test_whole_array_fill_gives_the_chunked_fill_bits():
    # The device fills each argument at once; the host fills chunk by chunk on threads.
    lib = load_library("blas")
    for name in ("axpy", "dot", "gemv_n", "gemm_strided_batched", "iamax"):
        k = lib.kernel(name)
        for variant in VARIANTS:
            a = make_case(k, k.sizes_validate[-1], k.dtypes[0], 11, variant=variant)
            b = make_case(k, k.sizes_validate[-1], k.dtypes[0], 11, variant=variant, chunked=False)
            for arg, arr in a.arrays.items():
                for x, y in zip(arr.buffers, b.arrays[arg].buffers):
                    assert x.tobytes() == y.tobytes(), (name, variant, arg)


# --------------------------------------------------------------------------- on a GPU


def _cupy_reason() -> str:
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed"
    cupy, why = ondevice._device_cupy()
    return why




def _same(a, b) -> bool:
    return np.asarray(a).tobytes() == np.asarray(b).tobytes()


@pytest.mark.gpu
@pytest.mark.skipif(bool(_cupy_reason()), reason=_cupy_reason() or "GPU present")
@pytest.mark.parametrize("library", ["blas", "nn", "solver"])
def test_cases_built_on_the_device_are_the_host_cases_bit_for_bit(library):
    import cupy

    lib = load_library(library)
    for k in lib.kernels:
        for variant in VARIANTS:
            sizes = k.sizes_validate[-1]
            host = make_case(k, sizes, k.dtypes[0], 5, variant=variant)
            dev = make_case(k, sizes, k.dtypes[0], 5, variant=variant, xp=cupy)
            assert dev.namespace is cupy and dev.poison_seed == host.poison_seed
            for arg, arr in host.arrays.items():
                for x, y in zip(arr.buffers, dev.arrays[arg].buffers):
                    assert _same(x, y.get()), (k.name, variant, arg)
            for key, value in host.reference_inputs().items():
                got = dev.reference_inputs()[key]
                got = got.get() if hasattr(got, "get") else got
                assert np.array_equal(np.asarray(value), np.asarray(got), equal_nan=True), (k.name, variant, key)


def _honest_after(kernel, case, want):
    """The buffers a correct kernel leaves: outputs set to the reference, in the case's namespace."""
    after = case.fresh_buffers()
    outputs, _ = split_magnitudes(want)
    for name, arg in case.arrays.items():
        if arg.role in ("output", "inout"):
            values = outputs[name].reshape(arg.batches, arg.count) if arg.batched else outputs[name].reshape(1, -1)
            for b, (i, s) in enumerate(arg.used_slices()):
                after[name][i][s] = to_storage(values[b], arg.dtype, case.namespace)
    return after


TAMPERS = ["honest", "guard", "input", "unwritten", "nan", "wrong"]


def _tamper(case, after, how):
    xp = case.namespace
    out = next(n for n, a in case.arrays.items() if a.role in ("output", "inout"))
    inp = next((n for n, a in case.arrays.items() if a.role == "input" and not a.pointer_scalar), None)
    arg = case.arrays[out]
    i, s = arg.used_slices()[0]
    if how == "guard":
        after[out][i][s.stop] = after[out][i][s.start]
    elif how == "input" and inp is not None:
        j, t = case.arrays[inp].used_slices()[0]
        after[inp][j][t.start] = after[inp][j][t.start] + 1
    elif how == "unwritten" and arg.role == "output":
        after[out][i][s.start] = case.arrays[out].buffers[i][s.start]
    elif how == "nan":
        # NaN only where the output holds floats (iamax's first output is an index)
        floats = [n for n, a in case.arrays.items() if a.role in ("output", "inout")
                  and np.issubdtype(np.dtype(str(after[n][0].dtype)), np.floating)]
        if floats:
            j, t = case.arrays[floats[0]].used_slices()[0]
            after[floats[0]][j][t.start] = xp.nan
        else:
            after[out][i][s.start] = after[out][i][s.start] * 3 + 7
    elif how == "wrong":
        after[out][i][s.start] = after[out][i][s.start] * 3 + 7


@pytest.mark.gpu
@pytest.mark.skipif(bool(_cupy_reason()), reason=_cupy_reason() or "GPU present")
@pytest.mark.parametrize("how", TAMPERS)
def test_verdicts_on_the_device_are_the_host_verdicts(how):
    import cupy

    lib = load_library("blas")
    for name in ("axpy", "dot", "gemv_n", "ger", "gemm", "gemm_strided_batched", "iamax"):
        k = lib.kernel(name)
        ref = lib.reference(k)
        results = []
        for xp in (np, cupy):
            case = make_case(k, k.sizes_validate[-1], "float32", 21, reference_view=False, xp=xp)
            want = call_reference(ref, case.reference_inputs(), "float32", xp=xp)
            after = _honest_after(k, case, want)
            _tamper(case, after, how)
            results.append(check_run(k, case, after, want))
        host, dev = results
        assert (host.passed, host.failure) == (dev.passed, dev.failure), (name, how, host.detail, dev.detail)
        if how == "honest":
            assert host.passed, (name, host.detail)


@pytest.mark.gpu
@pytest.mark.skipif(bool(_cupy_reason()), reason=_cupy_reason() or "GPU present")
@pytest.mark.parametrize("mode", ["device", "host"])
def test_timing_checks_reject_the_cheats_in_both_modes(mode, monkeypatch):
    from portkern.harness import bench, bench_passed, build
    from portkern.harness.bench import target_for_device

    monkeypatch.setenv("PORTKERN_BENCH_CHECK_ON", mode)
    adv = load_library(ADVERSARIAL)
    target = target_for_device(get_runner("cuda").available().devices[0])
    verdicts = {}
    for name in ("honest_axpby", "deferred_work", "cache_results", "skip_when_timed", "mutate_when_timed"):
        k = adv.kernel(name)
        compiled = build(adv, k, target, runner="cuda", dtypes=["float32"])
        res = bench(adv, k, compiled, target, runner="cuda", sizes=k.sizes_bench[0], dtype="float32", trials=20,
                    warmup=2, baseline=False, measure_copy=False, ci_fraction=0.0)
        verdicts[name] = bench_passed(res)
    assert verdicts == {"honest_axpby": True, "deferred_work": False, "cache_results": False,
                        "skip_when_timed": False, "mutate_when_timed": False}
