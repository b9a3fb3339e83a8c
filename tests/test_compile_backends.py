"""Real compiles with nvcc (h100, a100) and clang's HIP toolchain (mi300x, mi250x): resource
reports checked against what the source implies, entries, errors, the cache."""

from __future__ import annotations

import os
import shutil
import stat
import time

import pytest
from portkern.backends.cuda import CudaBackend
from portkern.backends.hip import HipBackend

from portkern.compile.parallel import CompileJob, compile_many
from portkern.errors import CompileError, ToolMissingError
from portkern.model import CompileOptions
from portkern.targets import get_target

HAVE_NVCC = shutil.which("nvcc") is not None
HAVE_HIP_CLANG = any(shutil.which(n) for n in ("hipcc", "clang-22", "clang-21", "clang-20", "clang-19", "clang"))
needs_nvcc = pytest.mark.skipif(not HAVE_NVCC, reason="nvcc (CUDA toolkit) is not installed")
needs_hip = pytest.mark.skipif(not HAVE_HIP_CLANG, reason="no clang with the AMDGPU backend / hipcc installed")

HEADERS = {"cuda": "#include <cuda_runtime.h>\n", "hip": "#include <hip/hip_runtime.h>\n"}

# One translation unit holding every kernel the resource checks need, so each target compiles once.
KERNELS = r"""
__global__ void k_trivial(float* y) { y[threadIdx.x] = 1.0f; }

__global__ void k_shared(float* y) {
  __shared__ float s[256];
  s[threadIdx.x] = y[threadIdx.x];
  __syncthreads();
  y[threadIdx.x] = s[255 - threadIdx.x];
}

// 48 independent accumulators kept live across a loop: many registers.
__global__ void k_heavy(const float* x, float* y, int n) {
  float acc[48];
#pragma unroll
  for (int j = 0; j < 48; ++j) acc[j] = x[j * 1024 + threadIdx.x];
  for (int i = 0; i < n; ++i) {
#pragma unroll
    for (int j = 0; j < 48; ++j) acc[j] = acc[j] * acc[(j + 1) % 48] + x[i];
  }
  float sum = 0.0f;
#pragma unroll
  for (int j = 0; j < 48; ++j) sum += acc[j] * (j + 1);
  y[threadIdx.x] = sum;
}

__global__ void __launch_bounds__(128) k_bounded(float* y) { y[threadIdx.x] *= 2.0f; }

// The same register pressure, capped by launch bounds of 1024 threads.
__global__ void __launch_bounds__(1024) k_heavy_bounded(const float* x, float* y, int n) {
  float acc[48];
#pragma unroll
  for (int j = 0; j < 48; ++j) acc[j] = x[j * 1024 + threadIdx.x];
  for (int i = 0; i < n; ++i) {
#pragma unroll
    for (int j = 0; j < 48; ++j) acc[j] = acc[j] * acc[(j + 1) % 48] + x[i];
  }
  float sum = 0.0f;
#pragma unroll
  for (int j = 0; j < 48; ++j) sum += acc[j] * (j + 1);
  y[threadIdx.x] = sum;
}

// A runtime-indexed private array lives in local memory / scratch.
__global__ void k_local(float* y, int k) {
  float a[64];
  for (int i = 0; i < 64; ++i) a[i] = y[i * 64 + threadIdx.x];
  for (int i = 0; i < 64; ++i) a[(i * k) & 63] += a[(i + k) & 63];
  float s = 0.0f;
  for (int i = 0; i < 64; ++i) s += a[i];
  y[threadIdx.x] = s;
}

template <typename I, int NB, typename T>
__global__ void __launch_bounds__(NB) axpy_kernel(I n, T alpha, const T* x, T* y) {
  I i = blockIdx.x * NB + threadIdx.x;
  if (i < n) y[i] = alpha * x[i] + y[i];
}

static __global__ void k_static(double* y) { y[threadIdx.x] = sin(y[threadIdx.x]); }
"""

ENTRIES = ["axpy_kernel<int, 256, float>", "axpy_kernel<long,128,double>", "k_static", "k_trivial", "k_shared",
           "k_heavy", "k_bounded", "k_heavy_bounded", "k_local"]

TARGETS = [pytest.param("h100", marks=needs_nvcc), pytest.param("a100", marks=needs_nvcc),
           pytest.param("mi300x", marks=needs_hip), pytest.param("mi250x", marks=needs_hip)]


def backend_for(target_name: str, cache_dir, **kw):
    target = get_target(target_name)
    cls = {"cuda": CudaBackend, "hip": HipBackend}[target.backend]
    return cls(cache_dir=cache_dir, **kw), target


def source_for(target_name: str, body: str = KERNELS) -> str:
    return HEADERS[get_target(target_name).dialect] + body


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    results = {}

    def get(target_name: str):
        if target_name not in results:
            backend, target = backend_for(target_name, tmp_path_factory.mktemp(f"cache-{target_name}"))
            results[target_name] = backend.compile(source_for(target_name), target,
                                                   CompileOptions(entries=ENTRIES), name="resources")
        return results[target_name]

    return get


def report(result, entry):
    return result.resources[result.entry_map[entry]]


@pytest.mark.parametrize("target_name", TARGETS)
def test_every_entry_maps_to_a_kernel_symbol(compiled, target_name):
    result = compiled(target_name)
    assert set(result.entry_map) == set(ENTRIES)
    assert set(result.entry_map.values()) <= set(result.entry_symbols)
    assert result.entry_map["axpy_kernel<int, 256, float>"] == "_Z11axpy_kernelIiLi256EfEvT_T1_PKS1_PS1_"
    assert result.entry_map["axpy_kernel<long,128,double>"] == "_Z11axpy_kernelIlLi128EdEvT_T1_PKS1_PS1_"
    assert "k_static" in result.entry_map["k_static"]   # internal linkage: _ZL8k_staticPd on clang
    assert result.binary[:4] == b"\x7fELF"
    assert result.code_type == ("cubin" if get_target(target_name).vendor == "nvidia" else "hsaco")


@pytest.mark.parametrize("target_name", TARGETS)
def test_shared_array_of_256_floats_is_1024_bytes(compiled, target_name):
    result = compiled(target_name)
    assert report(result, "k_shared").shared_bytes == 1024
    assert report(result, "k_trivial").shared_bytes == 0


@pytest.mark.parametrize("target_name", TARGETS)
def test_launch_bounds_are_recorded(compiled, target_name):
    result = compiled(target_name)
    assert report(result, "k_bounded").max_threads_per_block == 128
    assert report(result, "axpy_kernel<long,128,double>").max_threads_per_block == 128
    assert report(result, "axpy_kernel<int, 256, float>").max_threads_per_block == 256


@pytest.mark.parametrize("target_name", TARGETS)
def test_register_heavy_kernel_uses_more_registers_and_bounds_cap_them(compiled, target_name):
    result, target = compiled(target_name), get_target(target_name)
    trivial, heavy = report(result, "k_trivial"), report(result, "k_heavy")
    bounded = report(result, "k_heavy_bounded")
    assert heavy.registers > trivial.registers + 40
    if target.vendor == "nvidia":
        # 1024 threads must fit the SM's 64K registers: at most 64 per thread.
        assert bounded.registers <= target.registers_per_cu // 1024
    else:
        # 16 waves of 64 lanes over 4 SIMDs: 4 waves per SIMD, at most 512 / 4 VGPRs+AGPRs each.
        assert bounded.registers + bounded.agprs <= 128
    assert bounded.occupancy_fraction > 0  # a 1024-thread block fits


@pytest.mark.parametrize("target_name", TARGETS)
def test_runtime_indexed_array_uses_local_memory(compiled, target_name):
    result = compiled(target_name)
    assert report(result, "k_local").local_bytes >= 64 * 4
    assert report(result, "k_trivial").local_bytes == 0


@pytest.mark.parametrize("target_name", TARGETS)
def test_occupancy_and_instruction_mix_are_filled(compiled, target_name):
    result, target = compiled(target_name), get_target(target_name)
    heavy, trivial = report(result, "k_heavy"), report(result, "k_trivial")
    assert 0 < heavy.occupancy_fraction <= trivial.occupancy_fraction <= 1.0
    assert trivial.occupancy_limiter
    shared_mix = report(result, "k_shared").instruction_mix
    if target.vendor == "amd":
        assert shared_mix.get("lds", 0) >= 2 and shared_mix.get("vmem", 0) >= 2
        assert report(result, "k_trivial").sgprs > 0
    elif shared_mix:  # SASS mix needs nvdisasm
        assert shared_mix.get("shared_memory", 0) >= 2 and shared_mix.get("global_memory", 0) >= 2
    else:
        assert any("nvdisasm" in n for n in result.notes)


@needs_hip
def test_gfx942_build_says_how_device_libraries_were_handled(compiled):
    result = compiled("mi300x")
    from portkern.backends.hip.clang import plan_device_libs

    plan = plan_device_libs("gfx942")
    if plan.mode == "rocm":
        assert not any("device librar" in n for n in result.notes)
    else:
        assert any("gfx942" in n and "-nogpulib" in n for n in result.notes)


# ----------------------------------------------------------------------------- errors

BROKEN = "__global__ void k_broken(float* y) { y[threadIdx.x] = undefined_thing * 2.0f; }\n"


@pytest.mark.parametrize("target_name", [pytest.param("h100", marks=needs_nvcc), pytest.param("mi300x", marks=needs_hip)])
def test_broken_kernel_surfaces_the_compilers_message(tmp_path, target_name):
    backend, target = backend_for(target_name, tmp_path)
    with pytest.raises(CompileError) as info:
        backend.compile(source_for(target_name, BROKEN), target, name="broken")
    err = info.value
    assert "undefined_thing" in str(err) and "undefined_thing" in err.log
    assert ("is undefined" in err.log) or ("undeclared identifier" in err.log)
    assert err.command and os.path.basename(err.command[0]).startswith(("nvcc", "clang", "hipcc"))


@needs_nvcc
def test_missing_nvcc_names_the_package(tmp_path):
    backend = CudaBackend(nvcc=str(tmp_path / "no-such-nvcc"), cache_dir=tmp_path)
    with pytest.raises(ToolMissingError) as info:
        backend.compile("__global__ void k() {}", get_target("h100"))
    assert "nvidia-cuda-toolkit" in str(info.value) and "CUDA toolkit" in str(info.value)
    assert not backend.available().ok


def test_missing_hip_clang_on_path_names_the_packages(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("PORTKERN_COMPILE_HIP_CLANG", raising=False)
    backend = HipBackend(cache_dir=tmp_path)
    with pytest.raises(ToolMissingError) as info:
        backend.compile("__global__ void k() {}", get_target("mi300x"))
    message = str(info.value)
    assert "clang-19" in message and "lld-19" in message and "libamdhip64-dev" in message
    availability = backend.available()
    assert not availability.ok and "libamdhip64-dev" in availability.reason


def test_compiler_override_from_the_environment_is_honoured(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTKERN_COMPILE_NVCC", str(tmp_path / "nvcc-not-here"))
    with pytest.raises(ToolMissingError) as info:
        CudaBackend(cache_dir=tmp_path).compile("__global__ void k() {}", get_target("a100"))
    assert "nvcc-not-here" in str(info.value)


@needs_hip
def test_target_of_another_backend_is_refused(tmp_path):
    from portkern.errors import ConfigError

    with pytest.raises(ConfigError, match="whose backend is 'cuda'"):
        HipBackend(cache_dir=tmp_path).compile("", get_target("h100"))


# ----------------------------------------------------------------------------- cache

SMALL = "__global__ void k_small(float* y) { y[threadIdx.x] += 1.0f; }\n"


@pytest.mark.parametrize("target_name", [pytest.param("a100", marks=needs_nvcc), pytest.param("mi250x", marks=needs_hip)])
def test_cache_hit_is_marked_fast_and_identical(tmp_path, target_name):
    backend, target = backend_for(target_name, tmp_path / "cache")
    t0 = time.perf_counter()
    first = backend.compile(source_for(target_name, SMALL), target, name="small")
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    second = backend.compile(source_for(target_name, SMALL), target, name="small")
    warm = time.perf_counter() - t0
    assert not first.cached and second.cached
    assert second.binary == first.binary and second.cache_key == first.cache_key
    assert warm < cold / 5
    changed = backend.compile(source_for(target_name, SMALL.replace("1.0f", "2.0f")), target, name="small")
    assert not changed.cached and changed.cache_key != first.cache_key


@needs_nvcc
def test_edited_header_misses_the_cache(tmp_path):
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "scale.h").write_text("#define SCALE 2.0f\n")
    src = '#include "scale.h"\n__global__ void k(float* y) { y[threadIdx.x] *= SCALE; }\n'
    backend = CudaBackend(cache_dir=tmp_path / "cache")
    opts = CompileOptions(include_dirs=[str(inc)])
    backend.compile(src, get_target("h100"), opts)
    assert backend.compile(src, get_target("h100"), opts).cached
    time.sleep(0.01)
    (inc / "scale.h").write_text("#define SCALE 3.0f\n")
    assert not backend.compile(src, get_target("h100"), opts).cached


@needs_nvcc
def test_compiler_without_identity_is_not_cached(tmp_path):
    # A real nvcc behind a wrapper that refuses to say its version.
    wrapper = tmp_path / "nvcc-anon"
    wrapper.write_text(f'#!/bin/sh\nfor a in "$@"; do [ "$a" = --version ] && exit 1; done\n'
                       f'exec {shutil.which("nvcc")} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    backend = CudaBackend(nvcc=str(wrapper), cache_dir=tmp_path / "cache")
    first = backend.compile(SMALL, get_target("h100"))
    second = backend.compile(SMALL, get_target("h100"))
    assert not second.cached and first.cache_key == ""
    assert any("not cached" in n for n in first.notes)
    assert not (tmp_path / "cache").exists()


@needs_nvcc
def test_h200_reuses_the_h100_build_with_its_own_target_name(tmp_path):
    backend = CudaBackend(cache_dir=tmp_path)
    backend.compile(SMALL, get_target("h100"))
    again = backend.compile(SMALL, get_target("h200"))
    assert again.cached and again.target == "h200" and again.arch == "sm_90"


# ----------------------------------------------------------------------------- parallel

@pytest.mark.skipif(not (HAVE_NVCC and HAVE_HIP_CLANG), reason="needs both nvcc and a HIP-capable clang")
def test_compile_many_keeps_order_and_isolates_failures(tmp_path):
    jobs = [CompileJob(source_for("h100", SMALL), get_target("h100"), name="a",
                       backend=CudaBackend(cache_dir=tmp_path)),
            CompileJob(source_for("mi300x", BROKEN), get_target("mi300x"), name="b",
                       backend=HipBackend(cache_dir=tmp_path)),
            CompileJob(source_for("mi250x", SMALL), get_target("mi250x"), name="c",
                       backend=HipBackend(cache_dir=tmp_path))]
    outcomes = compile_many(jobs, max_workers=2)
    assert [o.job.name for o in outcomes] == ["a", "b", "c"]
    assert [o.ok for o in outcomes] == [True, False, True]
    assert isinstance(outcomes[1].error, CompileError)
    assert outcomes[2].result.arch == "gfx90a"
