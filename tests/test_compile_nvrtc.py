"""NVRTC builds (cuda-python) beside nvcc builds: same resources, same mangled entries, NVRTC's
own error log, the cache, selection by config, and the nn library's kernel units for sm_90."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from portkern.backends.cuda import CudaBackend
from portkern.backends.cuda.nvrtc import load_nvrtc

from portkern.errors import CompileError, ToolMissingError
from portkern.model import CompileOptions
from portkern.targets import get_target

try:
    load_nvrtc()
    NVRTC_REASON = ""
except ToolMissingError as exc:  # cuda-python's NVRTC bindings, or the library itself, are not installed
    NVRTC_REASON = f"cuda.bindings.nvrtc cannot be used: {exc}"

pytestmark = pytest.mark.skipif(bool(NVRTC_REASON), reason=NVRTC_REASON or "-")
needs_nvcc = pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc (CUDA toolkit) is not installed")

KERNELS = r"""
#include <cuda_runtime.h>
#include <cstdint>
#include <cfloat>

__global__ void k_trivial(float* y) { y[threadIdx.x] = FLT_MAX; }

__global__ void k_shared(float* y) {
  __shared__ float s[256];
  s[threadIdx.x] = y[threadIdx.x];
  __syncthreads();
  y[threadIdx.x] = s[255 - threadIdx.x];
}

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

template <typename T>
__global__ void fill_kernel(T* y, int64_t n) { if (threadIdx.x < n) y[threadIdx.x] = T(1); }

static __global__ void k_static(double* y) { y[threadIdx.x] = sin(y[threadIdx.x]); }
"""

ENTRIES = ["axpy_kernel<int, 256, float>", "axpy_kernel<long,128,double>", "fill_kernel<int64_t>", "k_static",
           "k_trivial", "k_shared", "k_heavy", "k_local"]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """{compiler: CompileResult} for the same source, options and target (h100, sm_90)."""
    out = {}
    compilers = ["nvrtc"] + (["nvcc"] if shutil.which("nvcc") else [])
    for compiler in compilers:
        backend = CudaBackend(compiler=compiler, cache_dir=tmp_path_factory.mktemp(f"cache-{compiler}"))
        out[compiler] = backend.compile(KERNELS, get_target("h100"), CompileOptions(entries=ENTRIES), name="nvrtc")
    return out


def report(result, entry):
    return result.resources[result.entry_map[entry]]


def test_nvrtc_builds_a_cubin_with_every_entry(builds):
    result = builds["nvrtc"]
    assert result.binary[:4] == b"\x7fELF" and result.code_type == "cubin"
    assert result.compiler.startswith("NVRTC ")
    assert set(result.entry_map) == set(ENTRIES)
    assert set(result.entry_map.values()) <= set(result.entry_symbols)
    assert result.entry_map["axpy_kernel<int, 256, float>"] == "_Z11axpy_kernelIiLi256EfEvT_T1_PKS1_PS1_"
    # Under NVRTC libcu++ defines int64_t as long long (x); host <cstdint> under nvcc makes it long (l).
    # The lowered name is what NVRTC emitted, so the entry still resolves.
    assert result.entry_map["fill_kernel<int64_t>"] == "_Z11fill_kernelIxEvPT_x"


def test_shared_array_of_256_floats_is_1024_bytes(builds):
    assert report(builds["nvrtc"], "k_shared").shared_bytes == 1024
    assert report(builds["nvrtc"], "k_trivial").shared_bytes == 0
    if "nvcc" in builds:
        assert report(builds["nvcc"], "k_shared").shared_bytes == 1024


def test_cubin_report_has_registers_local_memory_launch_bounds_and_occupancy(builds):
    result = builds["nvrtc"]
    heavy, trivial = report(result, "k_heavy"), report(result, "k_trivial")
    assert heavy.registers > trivial.registers + 30 > 30
    assert report(result, "k_local").local_bytes >= 64 * 4 and trivial.local_bytes == 0
    assert report(result, "axpy_kernel<long,128,double>").max_threads_per_block == 128
    assert 0 < heavy.occupancy_fraction < trivial.occupancy_fraction <= 1.0
    assert heavy.occupancy_limiter == "registers"


@needs_nvcc
def test_template_entries_resolve_to_the_same_mangled_names_as_nvcc(builds):
    nvrtc, nvcc = builds["nvrtc"], builds["nvcc"]
    for entry in ENTRIES:
        if entry in ("k_static", "fill_kernel<int64_t>"):
            continue  # internal linkage / int64_t's underlying type differ (see the test above)
        assert nvrtc.entry_map[entry] == nvcc.entry_map[entry], entry
    assert "k_static" in nvrtc.entry_map["k_static"]


@needs_nvcc
def test_registers_and_resources_roughly_agree_with_nvcc(builds):
    nvrtc, nvcc = builds["nvrtc"], builds["nvcc"]
    for entry in ENTRIES:
        a, b = report(nvrtc, entry), report(nvcc, entry)
        assert abs(a.registers - b.registers) <= max(4, b.registers // 5), (entry, a.registers, b.registers)
        assert a.shared_bytes == b.shared_bytes, entry
        assert a.max_threads_per_block == b.max_threads_per_block, entry
        assert (a.local_bytes > 0) == (b.local_bytes > 0), entry


def test_broken_kernel_error_carries_nvrtcs_log(tmp_path):
    broken = "__global__ void k_broken(float* y) { y[threadIdx.x] = undefined_thing * 2.0f; }\n"
    with pytest.raises(CompileError) as info:
        CudaBackend(compiler="nvrtc", cache_dir=tmp_path).compile(broken, get_target("h100"), name="broken")
    err = info.value
    assert 'identifier "undefined_thing" is undefined' in err.log
    assert "undefined_thing" in str(err) and "NVRTC" in str(err)
    assert err.command[0] == "nvrtc" and "-arch=sm_90" in err.command


def test_cache_hit_and_key_folds_in_the_nvrtc_version(tmp_path):
    from portkern.backends.cuda.nvrtc import nvrtc_version

    src = "__global__ void k_small(float* y) { y[threadIdx.x] += 1.0f; }\n"
    backend = CudaBackend(compiler="nvrtc", cache_dir=tmp_path)
    first = backend.compile(src, get_target("a100"))
    second = backend.compile(src, get_target("a100"))
    assert not first.cached and second.cached and second.binary == first.binary
    assert f"NVRTC {nvrtc_version()}" in second.compiler
    if shutil.which("nvcc"):
        by_nvcc = CudaBackend(compiler="nvcc", cache_dir=tmp_path).compile(src, get_target("a100"))
        assert by_nvcc.cache_key != first.cache_key


def test_edited_header_in_an_include_dir_misses_the_cache(tmp_path):
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "scale.h").write_text("#define SCALE 2.0f\n")
    src = '#include "scale.h"\n__global__ void k(float* y) { y[threadIdx.x] *= SCALE; }\n'
    backend = CudaBackend(compiler="nvrtc", cache_dir=tmp_path / "cache")
    opts = CompileOptions(include_dirs=[str(inc)])
    backend.compile(src, get_target("h100"), opts)
    assert backend.compile(src, get_target("h100"), opts).cached
    (inc / "scale.h").write_text("#define SCALE 3.00f\n")
    assert not backend.compile(src, get_target("h100"), opts).cached


def test_ptx_output(tmp_path):
    result = CudaBackend(compiler="nvrtc", cache_dir=tmp_path).compile(
        KERNELS, get_target("h100"), CompileOptions(code_type="ptx", entries=["axpy_kernel<int, 256, float>"]))
    assert b".entry _Z11axpy_kernelIiLi256EfEvT_T1_PKS1_PS1_" in result.binary
    assert any("PTX" in n for n in result.notes)


def test_selection_by_config_and_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PORTKERN_COMPILE_CUDA_COMPILER", "nvrtc")
    backend = CudaBackend(cache_dir=tmp_path)
    assert backend.selected_compiler() == "nvrtc"
    assert backend.available().details["compiler_used"] == "nvrtc"
    monkeypatch.setenv("PORTKERN_COMPILE_CUDA_COMPILER", "auto")
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvcc anywhere: auto falls back to NVRTC
    monkeypatch.delenv("PORTKERN_COMPILE_NVCC", raising=False)
    assert CudaBackend(cache_dir=tmp_path).selected_compiler() == "nvrtc"
    monkeypatch.setenv("PORTKERN_COMPILE_CUDA_COMPILER", "clang")
    from portkern.errors import ConfigError

    with pytest.raises(ConfigError, match="auto, nvcc or nvrtc"):
        CudaBackend(cache_dir=tmp_path).selected_compiler()


@needs_nvcc
def test_auto_keeps_nvcc_when_present(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTKERN_COMPILE_CUDA_COMPILER", raising=False)
    assert CudaBackend(cache_dir=tmp_path).selected_compiler() == "nvcc"


def test_without_cuda_headers_host_runtime_includes_are_dropped_with_a_note(tmp_path, monkeypatch):
    import portkern.backends.cuda.nvcc as nvcc_module

    monkeypatch.setattr(nvcc_module.nvrtc_path, "cuda_include_dirs", lambda nvcc=None: [])
    src = "#include <cuda_runtime.h>\n#include <cstdint>\n__global__ void k(int32_t* y) { y[threadIdx.x] = INT_MAX; }\n"
    result = CudaBackend(compiler="nvrtc", cache_dir=tmp_path).compile(src, get_target("h100"))
    assert "_Z1kPi" in result.entry_symbols
    assert any("dropped #include of cuda_runtime.h" in n for n in result.notes)


def test_doctor_reports_nvrtc_and_its_version():
    from portkern.backends.cuda.nvrtc import nvrtc_version

    from portkern.doctor import check_nvrtc

    check = check_nvrtc()
    assert check.ok and check.data["version"] == nvrtc_version() and nvrtc_version() in check.detail


# ----------------------------------------------------------------------------- the nn library

def nn_units():
    from portkern.ingest.build import ingest_library
    from portkern.library import instantiate, kernel_env, load_library

    lib = load_library("nn")
    catalog = ingest_library(lib)
    includes = [str((Path(lib.root) / d).resolve()) for d in lib.include_dirs]
    for kernel in lib.kernels:
        unit = catalog.units[kernel.symbol]
        sizes = kernel.sizes_validate[0] if kernel.sizes_validate else {}
        env = kernel_env(kernel, sizes)
        exprs: list[str] = []
        for dtype in kernel.dtypes:
            for launch in kernel.launches:
                if launch.symbol not in (unit.kernels or [unit.kernel]):
                    continue
                targs = instantiate(launch.template_args, dtype, env) if launch.template_args else []
                expr = f"{launch.symbol}<{', '.join(targs)}>" if targs else launch.symbol
                if expr not in exprs:
                    exprs.append(expr)
        yield kernel.name, unit.source, CompileOptions(include_dirs=includes, entries=exprs)


@pytest.mark.slow
def test_nn_kernel_units_compile_through_nvrtc_for_sm_90(tmp_path):
    backend = CudaBackend(compiler="nvrtc", cache_dir=tmp_path)
    built = {}
    for name, source, options in nn_units():
        result = backend.compile(source, get_target("h100"), options, name=name)
        assert set(result.entry_map) == set(options.entries) and options.entries, name
        assert all(result.resources[s].registers > 0 for s in result.entry_map.values()), name
        built[name] = result
    assert len(built) >= 8


def test_nn_whole_files_with_host_launchers_are_refused_with_nvrtcs_reason(tmp_path):
    # Library files keep their host launch functions (cudaGetLastError, <<<>>>); NVRTC compiles
    # device code only, so these go through nvcc or, for NVRTC, through their kernel units.
    from portkern.library import load_library

    lib = load_library("nn")
    source = next(s for s in lib.source_files() if s.name == "gelu.cu")
    includes = [str((Path(lib.root) / d).resolve()) for d in lib.include_dirs]
    with pytest.raises(CompileError) as info:
        CudaBackend(compiler="nvrtc", cache_dir=tmp_path).compile(
            source.read_text(), get_target("h100"), CompileOptions(include_dirs=includes), name="gelu")
    assert "host functions are not allowed" in info.value.log
