"""Stand-ins the translator adds where the target lacks a facility: SIMD-in-word intrinsics (checked
lane by lane against a Python model on the host), cache hints on vector types, the CUDA 13 forms of
HIP code, HIP-only types and headers, rocWMMA fragments. Compiled with the real compilers when present."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from portkern.translate import translate_source
from portkern.translate.compat import SIMD_BASE, simd_function
from portkern.translate.maps import SIMD_INTRINSICS

# ---------------------------------------------------------------- a Python model of the CUDA intrinsics

def _lanes(x: int, bits: int) -> list[int]:
    return [(x >> (bits * i)) & ((1 << bits) - 1) for i in range(32 // bits)]


def _signed(u: int, bits: int) -> int:
    return u - (1 << bits) if u >> (bits - 1) else u


def _pack(vals: list[int], bits: int) -> int:
    return sum((v & ((1 << bits) - 1)) << (bits * i) for i, v in enumerate(vals))


def model(name: str, a: int, b: int, c: int = 0) -> int:
    lanes, op = SIMD_INTRINSICS[name]
    if op == "dp4a":  # signed overload
        sa = [_signed(v, 8) for v in _lanes(a, 8)]
        sb = [_signed(v, 8) for v in _lanes(b, 8)]
        return (_signed(c, 32) + sum(x * y for x, y in zip(sa, sb))) & 0xffffffff
    bits = 32 // lanes
    lo, hi, umax = -(1 << (bits - 1)), (1 << (bits - 1)) - 1, (1 << bits) - 1
    ua, ub = _lanes(a, bits), _lanes(b, bits)
    sa, sb = [_signed(v, bits) for v in ua], [_signed(v, bits) for v in ub]
    sat = lambda v, low, high: max(low, min(high, v))  # noqa: E731
    cmp = {"eq": lambda i: ua[i] == ub[i], "ne": lambda i: ua[i] != ub[i], "ges": lambda i: sa[i] >= sb[i],
           "geu": lambda i: ua[i] >= ub[i], "gts": lambda i: sa[i] > sb[i], "gtu": lambda i: ua[i] > ub[i],
           "les": lambda i: sa[i] <= sb[i], "leu": lambda i: ua[i] <= ub[i], "lts": lambda i: sa[i] < sb[i],
           "ltu": lambda i: ua[i] < ub[i]}
    n = range(lanes)
    if op in ("sads", "sadu"):
        return sum(abs(sa[i] - sb[i]) if op == "sads" else abs(ua[i] - ub[i]) for i in n)
    if op.startswith("cmp"):
        return _pack([umax if cmp[op[3:]](i) else 0 for i in n], bits)
    if op.startswith("set"):
        return _pack([1 if cmp[op[3:]](i) else 0 for i in n], bits)
    per_lane = {
        "add": lambda i: ua[i] + ub[i], "sub": lambda i: ua[i] - ub[i],
        "addss": lambda i: sat(sa[i] + sb[i], lo, hi), "subss": lambda i: sat(sa[i] - sb[i], lo, hi),
        "addus": lambda i: min(ua[i] + ub[i], umax), "subus": lambda i: max(ua[i] - ub[i], 0),
        "avgu": lambda i: (ua[i] + ub[i] + 1) // 2, "haddu": lambda i: (ua[i] + ub[i]) // 2,
        "absdiffs": lambda i: abs(sa[i] - sb[i]), "absdiffu": lambda i: abs(ua[i] - ub[i]),
        "maxs": lambda i: max(sa[i], sb[i]), "maxu": lambda i: max(ua[i], ub[i]),
        "mins": lambda i: min(sa[i], sb[i]), "minu": lambda i: min(ua[i], ub[i]),
        "abs": lambda i: abs(sa[i]), "absss": lambda i: min(abs(sa[i]), hi),
        "neg": lambda i: -sa[i], "negss": lambda i: sat(-sa[i], lo, hi),
    }[op]
    return _pack([per_lane(i) for i in n], bits)


def test_model_matches_documented_examples():
    assert model("__vmaxs4", 0x80FF0102, 0x7F010201) == 0x7F010202      # signed bytes
    assert model("__vmaxu4", 0x80FF0102, 0x7F010201) == 0x80FF0202
    assert model("__vaddss2", 0x7FFF0001, 0x00010001) == 0x7FFF0002    # saturates at 0x7fff
    assert model("__vsadu4", 0x00000A00, 0x00000003) == 13
    assert model("__dp4a", 0x01020304, 0xFF010101, 10) == (10 - 1 + 2 + 3 + 4)


def test_simd_stand_ins_compute_what_the_model_says():
    gxx = shutil.which("g++")
    if not gxx:
        pytest.skip("no g++ on this machine")
    rng = random.Random(24)
    edge = [0, 0xFFFFFFFF, 0x80808080, 0x7F7F7F7F, 0x80007FFF, 0x01FF80FE]
    inputs = [(a, b, c) for a in edge for b in edge for c in (0, 5)] + \
             [(rng.getrandbits(32), rng.getrandbits(32), rng.getrandbits(32)) for _ in range(60)]
    names = sorted(SIMD_INTRINSICS)
    lines = ["#include <cstdio>", "#define __host__", "#define __device__", SIMD_BASE]
    lines += [simd_function(n) for n in names]
    lines.append("int main() {")
    for a, b, c in inputs:
        for n in names:
            lanes, op = SIMD_INTRINSICS[n]
            fn = "portkern_" + n[2:]
            if op == "dp4a":
                call = f"(unsigned int){fn}((int){a}u, (int){b}u, (int){c}u)"
            elif op in ("abs", "absss", "neg", "negss"):
                call = f"{fn}({a}u)"
            else:
                call = f"{fn}({a}u, {b}u)"
            lines.append(f'  std::printf("%u\\n", {call});')
    lines.append("  return 0; }")
    tmp = Path(__import__("tempfile").mkdtemp(prefix="portkern_simd_"))
    (tmp / "simd.cpp").write_text("\n".join(lines))
    subprocess.run([gxx, "-std=c++17", "-O1", "-o", str(tmp / "simd"), str(tmp / "simd.cpp")], check=True,
                   capture_output=True, timeout=120)
    got = subprocess.run([str(tmp / "simd")], check=True, capture_output=True, text=True, timeout=60).stdout.split()
    want = [model(n, a, b, c) for a, b, c in inputs for n in names]
    bad = [(names[i % len(names)], inputs[i // len(names)], int(g), w)
           for i, (g, w) in enumerate(zip(got, want)) if int(g) != w]
    assert len(got) == len(want) and not bad, bad[:5]
    shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- CUDA -> HIP: compiled for gfx942

CUDA_OWN_HINT = """#include <cuda_runtime.h>
struct Pair { float a, b; };
__device__ Pair __ldcs(const Pair* p) { return *p; }        // the project's own overload
__global__ void k(const Pair* pr, const float4* q, float* pout, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  Pair p = __ldcs(pr + i);
  float4 f = __ldcs(q + i);
  pout[i] = p.a + p.b + f.x + __ldcs(pout + i);
}
"""

CUDA_SIMD_AND_HINTS = """#include <cuda_runtime.h>
struct Pair { float a, b; };
__global__ void k(const unsigned int* a, const unsigned int* b, unsigned int* out, const int4* v, int4* w,
                  const float* f, float* g, const Pair* pr, float* pout, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  unsigned int m = __vmaxs4(a[i], b[i]) ^ __vminu2(a[i], b[i]) ^ __vcmpgtu4(a[i], b[i]) ^ __vsadu4(a[i], b[i]);
  out[i] = m + __vabsss4(a[i]) + (unsigned int)__dp4a((int)a[i], (int)b[i], 1);
  int4 x = __ldcs(v + i);
  __stcs(w + i, x);
  g[i] = __ldcs(f + i);
  Pair p = pr[i];
  pout[i] = p.a + p.b;
}
"""


def _compile_gfx942(text: str) -> None:
    clang = shutil.which("clang-19")
    if not clang or not Path("/usr/include/hip/hip_runtime.h").is_file():
        pytest.skip("clang-19 with HIP headers not installed")
    tmp = Path(__import__("tempfile").mkdtemp(prefix="portkern_hip_"))
    (tmp / "k.hip").write_text(text)
    proc = subprocess.run([clang, "-x", "hip", "--offload-arch=gfx942", "--offload-device-only", "-nogpulib",
                           "-std=c++17", "-O1", "-S", str(tmp / "k.hip"), "-o", str(tmp / "k.s")],
                          capture_output=True, text=True, timeout=300)
    shutil.rmtree(tmp, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _compile_sm90(text: str) -> None:
    nvcc = shutil.which("nvcc")
    if not nvcc:
        pytest.skip("nvcc not installed")
    tmp = Path(__import__("tempfile").mkdtemp(prefix="portkern_cu_"))
    (tmp / "k.cu").write_text(text)
    proc = subprocess.run([nvcc, "-std=c++17", "-arch=sm_90", "-c", str(tmp / "k.cu"), "-o", str(tmp / "k.o")],
                          capture_output=True, text=True, timeout=300)
    shutil.rmtree(tmp, ignore_errors=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


def test_simd_and_vector_cache_hints_translate_to_hip_that_compiles():
    r = translate_source(CUDA_SIMD_AND_HINTS, "hip")
    assert "portkern_vmaxs4(" in r.text and "portkern_dp4a(" in r.text and "__vmaxs4(" not in r.text
    assert "portkern_nontemporal_load(v + i)" in r.text and "portkern_nontemporal_store(x, w + i)" in r.text
    assert not [u for u in r.unconverted if u.name.startswith("__v") or u.name == "__dp4a"]
    _compile_gfx942(r.text)


def test_own_cache_hint_overloads_are_kept_and_other_types_get_fallbacks():
    r = translate_source(CUDA_OWN_HINT, "hip")
    # the project's own __ldcs overload and every call stay as written (no redeclaration of a builtin)
    assert "__device__ Pair __ldcs(const Pair* p)" in r.text and "__ldcs(pr + i)" in r.text
    assert "__ldcs(q + i)" in r.text and "template <typename T> __device__ inline T __ldcs(const T* p)" in r.text
    _compile_gfx942(r.text)


# ---------------------------------------------------------------- HIP -> CUDA 13: compiled with nvcc

HIP_FOR_CUDA13 = """#include <hip/hip_runtime.h>
#include <hipcub/hipcub.hpp>
#include <hipcub/util_type.hpp>
#include <hip/hip_bfloat16.h>
#include <hip/hip_fp8.h>
#include <rocwmma/rocwmma.hpp>
typedef struct ihipStream_t* hipStream_t;
__global__ void mm(const __half* a, const __half* b, float* c) {
  rocwmma::fragment<rocwmma::matrix_a, 16, 16, 16, rocwmma::float16_t, rocwmma::row_major> fa;
  rocwmma::fragment<rocwmma::matrix_b, 16, 16, 16, rocwmma::float16_t, rocwmma::col_major> fb;
  rocwmma::fragment<rocwmma::accumulator, 16, 16, 16, rocwmma::float32_t> fc;
  rocwmma::fill_fragment(fc, 0.0f);
  rocwmma::load_matrix_sync(fa, a, 16);
  rocwmma::load_matrix_sync(fb, b, 16);
  rocwmma::mma_sync(fc, fa, fb, fc);
  rocwmma::store_matrix_sync(c, fc, 16, rocwmma::mem_row_major);
}
int main() {
  hipDeviceProp_t prop;
  hipGetDeviceProperties(&prop, 0);
  hipDeviceProp_t* pp = &prop;
  int khz = prop.clockRate + pp->memoryClockRate + prop.computeMode;
  float* x;
  hipHostMalloc((void**)&x, 64);
  hipFreeHost(x);
  hipHostMalloc((void**)&x, 64, hipHostMallocMapped);
  hipHostFree(x);
  hipMallocManaged(&x, 64);
  hipStream_t s;
  hipStreamCreate(&s);
  hipMemPrefetchAsync(x, 64, 0, s);
  hipMemPrefetchAsync(x, 64, hipCpuDeviceId);
  hipMemAdvise(x, 64, hipMemAdviseSetReadMostly, 0);
  hip_bfloat16 bf = hip_bfloat16(1.0f);
  __hip_bfloat16 bf2 = __float2bfloat16(2.0f);
  __hip_fp8_e4m3 f8 = __hip_fp8_e4m3(0.5f);
  int mx = hipcub::Max()(3, 4) + hipcub::Min()(3, 4);
  hipFree(x);
  return khz + mx + (int)(float)bf + (int)__bfloat162float(bf2) + (int)(float)f8;
}
"""


def test_hip_translates_to_cuda13_forms():
    r = translate_source(HIP_FOR_CUDA13, "cuda", cuda_version="13.0")
    t = r.text
    assert "typedef struct CUstream_st* cudaStream_t;" in t
    assert "portkern_device_prop_attribute(prop, cudaDevAttrClockRate)" in t
    assert "portkern_device_prop_attribute(*pp, cudaDevAttrMemoryClockRate)" in t
    assert "cudaMallocHost((void**)&x, 64)" in t and "cudaHostAlloc((void**)&x, 64, cudaHostAllocMapped)" in t
    assert "cudaFreeHost(x)" in t and "hipFreeHost" not in t
    assert "cudaMemPrefetchAsync(x, 64, portkern_mem_location(0), 0, s)" in t
    assert "cudaMemPrefetchAsync(x, 64, portkern_mem_location(cudaCpuDeviceId), 0, 0)" in t
    assert "cudaMemAdvise(x, 64, cudaMemAdviseSetReadMostly, portkern_mem_location(0))" in t
    assert "cuda::maximum<>()(3, 4)" in t and "cuda::minimum<>()(3, 4)" in t
    assert "#include <cub/util_type.cuh>" in t and "#include <cuda_fp8.h>" in t and "#include <mma.h>" in t
    assert "__nv_bfloat16 bf = __nv_bfloat16(1.0f)" in t and "__nv_fp8_e4m3 f8" in t
    assert "nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, __half, nvcuda::wmma::row_major>" in t
    # an older CUDA keeps the fields and the device-number form
    old = translate_source(HIP_FOR_CUDA13, "cuda", cuda_version="12.4").text
    assert "prop.clockRate" in old and "cudaMemPrefetchAsync(x, 64, 0, s)" in old and "cub::Max()" in old


@pytest.mark.slow
def test_cuda13_output_compiles_with_nvcc():
    _compile_sm90(translate_source(HIP_FOR_CUDA13, "cuda", cuda_version="13.0").text)


def test_rocwmma_shape_cuda_lacks_is_reported_not_rewritten_silently():
    src = ("#include <rocwmma/rocwmma.hpp>\n__global__ void k() {\n"
           "  rocwmma::fragment<rocwmma::matrix_a, 32, 32, 8, rocwmma::float16_t, rocwmma::row_major> fa;\n}\n")
    r = translate_source(src, "cuda")
    shape = [h for h in r.hazards if h.kind == "wmma" and "32x32x8" in h.message]
    assert shape and shape[0].line == 3 and not shape[0].fixed


def test_version_checks_against_the_targeted_releases():
    # cuCtxSetSharedMemConfig: HIP spelling deprecated since ROCm 1.9; CUDA removed it in 12.4
    cu = "void f() { cuCtxSetSharedMemConfig(CU_SHAREDMEM_CONFIG_FOUR_BYTE_BANK_SIZE); }\n"
    r = translate_source(cu, "hip")
    assert [h.kind for h in r.hazards if h.kind.startswith("api-")] == ["api-deprecated"]
    r_old = translate_source(cu, "hip", rocm_version="1.8")   # before HIP had it at all
    assert [h.kind for h in r_old.hazards if h.kind.startswith("api-")] == ["api-unavailable"]
    hip = "void f() { hipCtxSetSharedMemConfig(hipSharedMemBankSizeFourByte); }\n"
    removed = [h for h in translate_source(hip, "cuda", cuda_version="13.0").hazards if h.kind == "api-removed"]
    assert removed and "12.4" in removed[0].message
    assert not [h for h in translate_source(hip, "cuda", cuda_version="12.0").hazards if h.kind == "api-removed"]
    # a name CUDA added after the targeted release
    hip2 = "void f(hipGraph_t g) { hipGraphInstantiateWithParams(0, g, 0); }\n"
    late = [h for h in translate_source(hip2, "cuda", cuda_version="11.0").hazards if h.kind == "api-unavailable"]
    assert late and "12.0" in late[0].message


def test_cli_rejects_a_bad_release_number(tmp_path, capsys):
    from portkern.cli import main

    f = tmp_path / "a.hip"
    f.write_text("int main() { hipDeviceProp_t p; hipGetDeviceProperties(&p, 0); return p.clockRate; }\n")
    assert main(["translate", str(f), "--to", "cuda", "--cuda-version", "thirteen"]) != 0
    err = capsys.readouterr().err
    assert "--cuda-version" in err and "Traceback" not in err
    assert main(["translate", str(f), "--to", "cuda", "--cuda-version", "12.4"]) == 0
    assert "p.clockRate" in capsys.readouterr().out
    assert main(["translate", str(f), "--to", "cuda", "--cuda-version", "13.0"]) == 0
    assert "cudaDevAttrClockRate" in capsys.readouterr().out


@pytest.mark.slow
def test_stand_ins_round_trip_back_to_cuda_and_compile_with_nvcc():
    """CUDA -> HIP -> CUDA: the portkern_* helpers are plain CUDA too (the nontemporal ones use __ldcs)."""
    hip = translate_source(CUDA_SIMD_AND_HINTS, "hip").text
    back = translate_source(hip, "cuda").text
    assert "portkern_vmaxs4(" in back and "portkern_nontemporal_load(v + i)" in back
    _compile_sm90(back)


def test_assert_gets_its_header_going_to_cuda():
    from portkern.translate import translate_source

    hip = "#include <hip/hip_runtime.h>\n__global__ void k(int n, float* x) { assert(n > 0); x[0] = n; }\n"
    out = translate_source(hip, "cuda", filename="k.hip").text
    assert out.count("#include <cassert>") == 1 and "cuda_runtime.h" in out
    own = "#include <hip/hip_runtime.h>\n#include <assert.h>\n__global__ void k(int n) { assert(n > 0); }\n"
    assert "<cassert>" not in translate_source(own, "cuda", filename="k.hip").text
    none = "#include <hip/hip_runtime.h>\n__global__ void k(int n, float* x) { x[0] = n; }\n"
    assert "<cassert>" not in translate_source(none, "cuda", filename="k.hip").text


def test_host_calls_cuda_defaults_or_templates_get_their_hip_shape():
    # CUDA gives cudaStreamWaitEvent's flags a default and cudaHostGetDevicePointer a T** overload;
    # HIP's declarations take neither, so the HIP output spells them out (and compiles with HIP's headers).
    src = ("#include <cuda_runtime.h>\n"
           "void f(cudaStream_t s, cudaEvent_t e, float* h, void** v) {\n"
           "  float* d; cudaStreamWaitEvent(s, e); cudaStreamWaitEvent(s, e, 0);\n"
           "  cudaHostGetDevicePointer(&d, h, 0); cudaHostGetDevicePointer(v, h, 0);\n"
           "  cudaHostGetDevicePointer((void**)&d, h, 0);\n}\n")
    r = translate_source(src, "hip", filename="f.cu")
    assert r.text.count("hipStreamWaitEvent(s, e, 0)") == 2
    assert r.text.count("hipHostGetDevicePointer((void**)&d, h, 0)") == 2 and "hipHostGetDevicePointer(v, h, 0)" in r.text
    _compile_gfx942(r.text)


HIP_MODULE_PROGRAM = r'''#include <hip/hip_runtime.h>
#include <cstdio>
#define CHECK(c) { hipError_t e = (c); if (e != hipSuccess) { printf("%s\n", hipGetErrorString(e)); return 1; } }
int main(int argc, char** argv) {
  hipDeviceProp_t props; CHECK(hipGetDeviceProperties(&props, 0));
  printf("arch %s\n", props.gcnArchName);
  CHECK(hipInit(0));
  hipModule_t module; hipFunction_t kernel;
  CHECK(hipModuleLoad(&module, argv[1]));
  CHECK(hipModuleGetFunction(&kernel, module, "scale"));
  unsigned n = 1024; float a = 2.f; float h[1024] = {};
  hipDeviceptr_t d, g;
  CHECK(hipMalloc(&d, n * sizeof(float)));
  CHECK(hipMemcpyHtoD(d, h, n * sizeof(float)));
  void* args[] = {&d, &a, &n};
  CHECK(hipModuleLaunchKernel(kernel, n / 256, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr));
  CHECK(hipMemcpyDtoH(h, d, n * sizeof(float)));
  size_t bytes; CHECK(hipModuleGetGlobal(&g, &bytes, module, "table"));
  CHECK(hipModuleUnload(module));
  return 0;
}
'''


def test_hip_module_api_becomes_the_cuda_runtime_library_api():
    # hipError_t everywhere in HIP; the driver API's CUresult and integer CUdeviceptr would not compile
    # under the program's own CHECK macro, so the file is written with cudaLibrary* and cudaLaunchKernel.
    t = translate_source(HIP_MODULE_PROGRAM, "cuda", filename="m.hip").text
    assert "cudaLibraryLoadFromFile(&module, argv[1], nullptr, nullptr, 0, nullptr, nullptr, 0)" in t
    assert "cudaLibraryGetKernel(&kernel, module, \"scale\")" in t and "cudaLibraryUnload(module)" in t
    assert "cudaLaunchKernel(reinterpret_cast<const void*>(kernel), dim3(n / 256, 1, 1), dim3(256, 1, 1), args, 0, nullptr)" in t
    assert "cudaMemcpy(d, h, n * sizeof(float), cudaMemcpyHostToDevice)" in t and "cudaMemcpyDeviceToHost" in t
    assert "void* d, *g;" in t and "cudaLibrary_t module; cudaKernel_t kernel;" in t
    assert "cudaFree(nullptr)" in t and "portkern_arch_name(props)" in t
    assert not any(w in t for w in ("cuModule", "CUdeviceptr", "cuInit", "CUfunction"))
    # kernel arguments through `extra` exist only in the driver API: such a file keeps it
    extra = HIP_MODULE_PROGRAM.replace("args, nullptr));", "nullptr, config));")
    assert "cuLaunchKernel(" in translate_source(extra, "cuda", filename="m.hip").text
    # CUDA before 12 has no library API
    assert "cuModuleLoad(" in translate_source(HIP_MODULE_PROGRAM, "cuda", filename="m.hip", cuda_version="11.8").text
    _compile_sm90(t)


def _bits_model(name, *a):
    m32, m64 = (1 << 32) - 1, (1 << 64) - 1
    if name == "__bitextract_u32":
        v, at, w = a[0], a[1] & 31, a[2] & 31
        return 0 if w == 0 else (v >> at) & ((1 << w) - 1)
    if name == "__bitextract_u64":
        v, at, w = a[0], a[1] & 63, a[2] & 63
        return 0 if w == 0 else (v >> at) & ((1 << w) - 1)
    if name in ("__bitinsert_u32", "__bitinsert_u64"):
        bits, full = (31, m32) if name.endswith("32") else (63, m64)
        at, mask = a[2] & bits, (1 << (a[3] & bits)) - 1
        return ((a[0] & ~(mask << at) & full) | ((a[1] & mask) << at)) & full
    v = a[0]
    return m32 if v == 0 else (v & -v).bit_length() - 1


def test_amd_bit_field_functions_compute_what_hip_documents():
    # The helpers the CUDA output gets, compiled for the host and run against a model of the HIP functions.
    gxx = shutil.which("g++")
    if not gxx:
        pytest.skip("g++ not installed")
    from portkern.translate.compat import AMD_DEVICE_FUNCTIONS

    rng = random.Random(7)
    calls = {"__bitextract_u32": 3, "__bitextract_u64": 3, "__bitinsert_u32": 4, "__bitinsert_u64": 4,
             "__lastbit_u32_u32": 1, "__lastbit_u32_u64": 1}
    cases = []
    for name, argc in calls.items():
        wide = name.endswith("64")
        for _ in range(40):
            args = [rng.getrandbits(64 if wide and i < (2 if "insert" in name else 1) else 32) for i in range(argc)]
            if argc > 1:
                args[-1] = rng.choice([0, 1, 5, 31, 32, 33, 63, 64, rng.getrandbits(8)])
                args[-2 if argc == 3 else 2] = rng.choice([0, 3, 31, 32, 40, 63, rng.getrandbits(8)])
            if rng.random() < 0.1:
                args[0] = 0
            cases.append((name, args))
    src = "#include <cstdio>\nstatic int __ffs(int v) { return __builtin_ffs(v); }\n"
    src += "static int __ffsll(long long v) { return __builtin_ffsll(v); }\n"
    src += "".join(AMD_DEVICE_FUNCTIONS[n].replace("__device__ ", "") for n in calls)
    src += "int main() {\n" + "".join(
        f'  printf("%llu\\n", (unsigned long long)portkern_{n[2:]}({", ".join(f"{x}ull" for x in a)}));\n'
        for n, a in cases) + "}\n"
    tmp = Path(__import__("tempfile").mkdtemp(prefix="portkern_bits_"))
    (tmp / "b.cpp").write_text(src)
    built = subprocess.run([gxx, "-O1", "-o", str(tmp / "b"), str(tmp / "b.cpp")], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    got = subprocess.run([str(tmp / "b")], capture_output=True, text=True, check=True).stdout.split()
    shutil.rmtree(tmp, ignore_errors=True)
    for (name, args), value in zip(cases, got):
        assert int(value) == _bits_model(name, *args), (name, args)
    t = translate_source("__global__ void k(unsigned* o, unsigned v) { o[0] = __bitextract_u32(v, 4, 4); }\n",
                         "cuda", filename="k.hip").text
    assert "o[0] = portkern_bitextract_u32(v, 4, 4);" in t and t.count("portkern_bitextract_u32(") == 2


HIP_ONLY_HOST = r'''#include <hip/hip_runtime.h>
#include <hip/hip_ext.h>
#include <cstdio>
__global__ void k(float* x, int n) { x[threadIdx.x] = n; }
int run(float* d, const float* h, hipStream_t s, hipEvent_t a, hipEvent_t b) {
  hipDeviceProp_t p;
  if (hipGetDeviceProperties(&p, 0) != hipSuccess) return 1;
  printf("%d %zu %d\n", p.clockInstructionRate, p.maxSharedMemoryPerMultiProcessor, p.arch.hasSharedInt32Atomics);
  hipExtLaunchKernelGGL(k, dim3(1), dim3(256), 0, s, nullptr, nullptr, 0, d, 4);
  hipExtLaunchKernelGGL(k, dim3(1), dim3(256), 0, s, a, b, 0, d, 4);
  return hipMemcpyWithStream(d, h, 1024, hipMemcpyHostToDevice, s) == hipSuccess ? 0 : 1;
}
'''


def test_hip_only_host_api_gets_cuda_forms_that_compile():
    t = translate_source(HIP_ONLY_HOST, "cuda", filename="h.hip").text
    assert "hip_ext.h" not in t and "k<<<dim3(1), dim3(256), 0, s>>>(d, 4);" in t
    assert ("((void)cudaEventRecord(a, s), k<<<dim3(1), dim3(256), 0, s>>>(d, 4), (void)cudaEventRecord(b, s));"
            in t)
    assert "portkern_memcpy_with_stream(d, h, 1024, cudaMemcpyHostToDevice, s)" in t
    assert "portkern_device_prop_attribute(p, cudaDevAttrClockRate), p.sharedMemPerMultiprocessor, 1)" in t
    assert "p.clockRate" in translate_source(HIP_ONLY_HOST, "cuda", filename="h.hip", cuda_version="12.4").text
    _compile_sm90(t)


MEMSET_D = r'''#include <hip/hip_runtime.h>
hipError_t fill(float* d, unsigned short* h, hipDeviceptr_t raw, hipStream_t s) {
  hipError_t e = hipMemsetD32(d, 0x3f800000, 256);
  if (e != hipSuccess) return e;
  e = hipMemsetD16Async(h, 0xabcd, 64, s);
  e = hipMemsetD8(raw, 0, 16);
  return hipMemsetD32Async(raw, 7, 4, s);
}
'''


def test_fills_of_8_16_32_bit_values_stay_on_the_runtime():
    """CUDA's counterparts are driver calls (cuMemsetD32: CUdeviceptr, CUresult, -lcuda): the runtime
    helpers keep HIP's arguments and one hipError_t check."""
    t = translate_source(MEMSET_D, "cuda", filename="m.hip").text
    assert "cuMemset" not in t and "cuda.h" not in t
    assert "cudaError_t e = portkern_memset_d32(d, 0x3f800000, 256);" in t
    assert "portkern_memset_d16_async(h, 0xabcd, 64, s)" in t and "portkern_memset_d8(raw, 0, 16)" in t
    _compile_sm90(t)


def test_typed_integer_min_max_get_hip_helpers_that_compile():
    src = ("__global__ void k(unsigned* o, unsigned a, long long c) {\n"
           "  o[0] = umin(a, blockDim.x) + umax(a, 3u);\n"
           "  o[1] = (unsigned)llmax(c, 3LL) + (unsigned)llmin(c, 1LL) + (unsigned)ullmin(5ull, 7ull) + (unsigned)ullmax(1ull, 2ull);\n}\n")
    r = translate_source(src, "hip", filename="k.cu")
    assert "o[0] = portkern_umin(a, blockDim.x) + portkern_umax(a, 3u);" in r.text
    assert "portkern_llmax(c, 3LL)" in r.text and "portkern_ullmax(1ull, 2ull)" in r.text
    assert "inline unsigned int portkern_umin(unsigned int a, unsigned int b) { return a < b ? a : b; }" in r.text
    assert not r.unconverted
    _compile_gfx942(r.text)


def test_a_callback_calling_convention_is_dropped_for_hip():
    src = ("#include <cuda_runtime.h>\n"
           "void CUDART_CB done(cudaStream_t stream, cudaError_t status, void* data) { *(int*)data = (int)status; }\n"
           "void run(cudaStream_t s, int* flag) { cudaStreamAddCallback(s, done, flag, 0); }\n")
    r = translate_source(src, "hip", filename="cb.cu")
    assert "void done(hipStream_t stream, hipError_t status, void* data)" in r.text and "CUDART_CB" not in r.text
    _compile_gfx942(r.text)


def test_grid_constant_parameters_compile_for_hip():
    src = ("struct Params { float v[512]; };\n"
           "__global__ void k(const __grid_constant__ Params p, float* o) { o[threadIdx.x] = p.v[threadIdx.x]; }\n")
    r = translate_source(src, "hip", filename="k.cu")
    assert "__grid_constant__" not in r.text and "k(const Params p, float* o)" in r.text
    assert [h.kind for h in r.hazards] == ["grid-constant"]
    _compile_gfx942(r.text)


def test_amd_lane_and_clock_functions_get_cuda_helpers_that_compile():
    src = ("__global__ void k(unsigned* o, unsigned long long* t) {\n"
           "  o[threadIdx.x] = __lane_id() + __smid() + __mbcnt_hi(~0u, __mbcnt_lo(~0u, 0u));\n"
           "  t[0] = __clock64(); t[1] = wall_clock64();\n}\n")
    r = translate_source(src, "cuda", filename="k.hip")
    assert ("o[threadIdx.x] = portkern_lane_id() + portkern_smid() + portkern_mbcnt_hi(~0u, portkern_mbcnt_lo(~0u, 0u));"
            in r.text)
    assert "t[0] = portkern_clock64(); t[1] = portkern_wall_clock64();" in r.text
    assert "%%laneid" in r.text and "%%lanemask_lt" in r.text and "%%globaltimer" in r.text
    assert not r.unconverted and [h.kind for h in r.hazards] == ["clock-rate"]
    _compile_sm90(r.text)


def test_driver_style_device_queries_return_runtime_errors():
    src = ("#include <hip/hip_runtime.h>\n"
           "#define CHECK(c) { hipError_t e_ = (c); if (e_ != hipSuccess) return 1; }\n"
           "int main() {\n  hipDevice_t dev; char name[64]; size_t mem; int major, minor;\n"
           "  CHECK(hipDeviceGet(&dev, 0));\n  CHECK(hipDeviceGetName(name, sizeof(name), dev));\n"
           "  CHECK(hipDeviceTotalMem(&mem, dev));\n  CHECK(hipDeviceComputeCapability(&major, &minor, dev));\n"
           "  return 0;\n}\n")
    t = translate_source(src, "cuda", filename="q.hip").text
    assert "int dev;" in t and "CHECK(portkern_device_get(&dev, 0));" in t
    assert "portkern_device_get_name(name, sizeof(name), dev)" in t and "cuDevice" not in t
    _compile_sm90(t)


def test_hip_graph_calls_take_todays_cuda_forms():
    src = ("#include <hip/hip_runtime.h>\n"
           "void f(hipGraph_t g, hipGraphNode_t a, hipGraphNode_t b, hipGraphNode_t* deps, size_t* n) {\n"
           "  hipGraphExec_t e; char log[64]; hipGraphNode_t bad;\n"
           "  hipGraphInstantiate(&e, g, nullptr, nullptr, 0);\n  hipGraphInstantiate(&e, g, &bad, log, 64);\n"
           "  hipGraphAddDependencies(g, &a, &b, 1);\n  hipGraphNodeGetDependencies(b, deps, n);\n"
           "  hipGraphGetEdges(g, nullptr, nullptr, n);\n"
           "  hipStreamCaptureStatus st; unsigned long long id; const hipGraphNode_t* cd; size_t cn;\n"
           "  hipStreamGetCaptureInfo_v2(0, &st, &id, &g, &cd, &cn);\n}\n")
    r = translate_source(src, "cuda", filename="g.hip")
    assert "cudaStreamGetCaptureInfo(0, &st, &id, &g, &cd, nullptr, &cn);" in r.text
    assert r.text.count("cudaGraphInstantiate(&e, g, 0);") == 2
    assert [h.kind for h in r.hazards] == ["removed-api"]          # the error node and log are not filled in
    assert "cudaGraphAddDependencies(g, &a, &b, nullptr, 1);" in r.text
    assert "cudaGraphNodeGetDependencies(b, deps, nullptr, n);" in r.text
    assert "cudaGraphGetEdges(g, nullptr, nullptr, nullptr, n);" in r.text
    older = translate_source(src, "cuda", filename="g.hip", cuda_version="12.4").text
    assert "cudaGraphAddDependencies(g, &a, &b, 1);" in older and "cudaGraphInstantiate(&e, g, 0);" in older
    _compile_sm90(r.text)


def test_cuda_graph_calls_take_hips_forms():
    src = ("#include <cuda_runtime.h>\n"
           "void f(cudaGraph_t g, cudaGraphNode_t a, cudaGraphNode_t b, size_t* n, cudaStream_t s, cudaGraphEdgeData* ed) {\n"
           "  cudaGraphExec_t e;\n  cudaGraphInstantiate(&e, g, 0);\n  cudaGraphInstantiate(&e, g);\n"
           "  cudaGraphAddDependencies(g, &a, &b, nullptr, 1);\n  cudaGraphGetEdges(g, nullptr, nullptr, NULL, n);\n"
           "  cudaStreamCaptureStatus st; unsigned long long id; const cudaGraphNode_t* deps; size_t cn;\n"
           "  cudaStreamGetCaptureInfo(s, &st, &id, &g, &deps, nullptr, &cn);\n"
           "  cudaStreamGetCaptureInfo(s, &st, &id);\n  cudaGraphRemoveDependencies(g, &a, &b, ed, 1);\n}\n")
    r = translate_source(src, "hip", filename="g.cu")
    t = r.text
    assert t.count("hipGraphInstantiateWithFlags(&e, g, 0);") == 2
    assert "hipGraphAddDependencies(g, &a, &b, 1);" in t and "hipGraphGetEdges(g, nullptr, nullptr, n);" in t
    assert "hipStreamGetCaptureInfo_v2(s, &st, &id, &g, &deps, &cn);" in t and "hipStreamGetCaptureInfo(s, &st, &id);" in t
    # real edge data has no HIP form: said, not dropped
    assert [h.kind for h in r.hazards if h.severity == "error"] == ["api-arguments"]
    _compile_gfx942(t.replace("  hipGraphRemoveDependencies(g, &a, &b, ed, 1);\n", "").replace(", hipGraphEdgeData* ed", ""))
