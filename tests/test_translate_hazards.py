from __future__ import annotations

import numpy as np
import pytest
from portkern.backends import get

from portkern.model import CompileOptions
from portkern.translate import translate_source


def kinds(result, fixed=None):
    return [h.kind for h in result.hazards if fixed is None or h.fixed == fixed]


def hip(text):
    return translate_source(text, "hip", filename="k.cu")


def cuda(text):
    return translate_source(text, "cuda", filename="k.hip")


REDUCE = """__device__ float warp_sum(float v) {
  for (int off = 16; off > 0; off >>= 1)
    v += __shfl_xor_sync(0xffffffff, v, off, 32);
  return v;
}
__global__ void k(float* out) {
  int lane = threadIdx.x & 31;
  int warp = threadIdx.x / 32;
  int nwarps = (blockDim.x + 31) / 32;
  float v = warp_sum(1.f);
  if (lane == 0) out[warp * nwarps] = v;
}
"""


def test_lane_arithmetic_and_shuffle_loops_fixed_together():
    r = hip(REDUCE)
    assert "for (int off = (warpSize / 2); off > 0; off >>= 1)" in r.text
    assert "__shfl_xor(v, off, warpSize)" in r.text
    assert "int lane = threadIdx.x & (warpSize - 1);" in r.text
    assert "int warp = threadIdx.x / warpSize;" in r.text
    assert "int nwarps = (blockDim.x + (warpSize - 1)) / warpSize;" in r.text
    fixed = [h for h in r.hazards if h.kind == "warp-size-literal"]
    assert len(fixed) == 6 and all(h.fixed for h in fixed)
    assert {h.line for h in fixed} == {2, 3, 7, 8, 9}


def test_literal_shuffle_offsets_block_the_fix_and_are_reported():
    src = REDUCE.replace("for (int off = 16; off > 0; off >>= 1)\n    v += __shfl_xor_sync(0xffffffff, v, off, 32);",
                         "v += __shfl_down_sync(0xffffffff, v, 16);\n  v += __shfl_down_sync(0xffffffff, v, 8);")
    r = hip(src)
    assert "threadIdx.x & 31" in r.text and "threadIdx.x / 32" in r.text   # left as written
    assert kinds(r).count("shuffle-literal-offset") == 2
    lit = [h for h in r.hazards if h.kind == "warp-size-literal"]
    assert lit and not any(h.fixed for h in lit)
    h = lit[0]
    assert h.region.function == "k" and h.region.text.strip() == "int lane = threadIdx.x & 31;"


def test_tile_arithmetic_is_not_mistaken_for_lanes():
    src = ("__global__ void t(float* a) {\n  __shared__ float tile[32][33];\n"
           "  int col = blockIdx.x * 32 + threadIdx.x;\n  int row = n / 32, tiles = width / 32;\n  tile[threadIdx.y][threadIdx.x] = a[col];\n}\n")
    r = hip(src)
    assert r.text == "#include <hip/hip_runtime.h>\n" + src and r.hazards == []   # nvcc's implicit include


def test_host_only_cu_file_gets_the_runtime_header_nvcc_implies():
    # A .cu file of host code only (the CUDA samples' main.cu files) calls the runtime without including it.
    src = '#include <stdio.h>\n#include "util.h"\nint main() { float* p; cudaMalloc(&p, 4); return cudaFree(p); }\n'
    r = translate_source(src, "hip", filename="main.cu")
    assert r.text.startswith("#include <hip/hip_runtime.h>\n#include <stdio.h>\n") and "hipMalloc(&p, 4)" in r.text
    # Not where the file includes a runtime header, nor in plain C++ sources nvcc does not pre-include for.
    own = "#include <cuda_runtime.h>\nvoid f() { cudaDeviceSynchronize(); }\n"
    assert translate_source(own, "hip", filename="f.cu").text.count("hip_runtime.h") == 1
    assert "hip_runtime" not in translate_source("void f() { cudaDeviceSynchronize(); }\n", "hip", filename="f.cpp").text
    # The runtime API header declares no threadIdx: a kernel file including only it still gets the runtime.
    api = "#include <cuda_runtime_api.h>\n__global__ void k(float* x) { x[threadIdx.x] = 0; }\n"
    assert translate_source(api, "hip", filename="k.cu").text.startswith("#include <hip/hip_runtime.h>\n")
    # Plain host C++ with no CUDA at all is left alone.
    plain = "#include <vector>\nint main() { return 0; }\n"
    assert translate_source(plain, "hip", filename="plain.cu").text == plain


def test_warp_size_macro_follows_the_wavefront_size():
    r = hip("#define WARP_SIZE 32\n__global__ void k() { int l = threadIdx.x % WARP_SIZE; }\n")
    assert r.text.startswith("#include <hip/hip_runtime.h>\n#if defined(__AMDGCN_WAVEFRONT_SIZE)\n#define WARP_SIZE __AMDGCN_WAVEFRONT_SIZE\n"
                             "#else\n#define WARP_SIZE 32\n#endif\n")
    assert kinds(r, fixed=True) == ["warp-size-macro"]
    back = cuda("#define WAVE_SIZE 64\n")
    assert back.text == "#define WAVE_SIZE 32\n" and kinds(back, fixed=True) == ["warp-size-macro"]


def test_ballot_width_popc_and_all_lanes_mask():
    src = ("__global__ void k(int* o, float v) {\n  unsigned m = __ballot_sync(0xffffffff, v > 0);\n"
           "  o[0] = __popc(m) + __ffs(__ballot_sync(0xffffffff, v < 0));\n  o[1] = (m == 0xffffffff);\n}\n")
    r = hip(src)
    assert "unsigned long long m = __ballot(v > 0);" in r.text
    assert "__popcll(m) + __ffsll(__ballot(v < 0))" in r.text
    assert "(m == 0xffffffffffffffffull)" in r.text
    assert set(kinds(r, fixed=True)) == {"ballot-width", "popc-ballot", "lane-mask-32bit"}


def test_partial_masks_are_reported_not_silently_dropped():
    r = hip("__device__ unsigned f(unsigned mask, bool p) { return __ballot_sync(mask, p); }\n")
    assert "(__ballot(p) & (mask))" in r.text
    h = next(h for h in r.hazards if h.kind == "partial-lane-mask")
    assert not h.fixed and h.severity == "warning" and h.line == 1


def test_activemask_and_64_bit_masks_back_to_cuda():
    r = hip("__device__ void f() { auto m = __activemask(); }\n")
    assert "__ballot(1)" in r.text and "activemask" in kinds(r, fixed=True)
    back = cuda("__device__ bool all(unsigned long long ballot) { return ballot == 0xffffffffffffffffull; }\n")
    assert "ballot == 0xffffffffu" in back.text and kinds(back, fixed=True) == ["lane-mask-64bit"]


def test_shared_arrays_sized_by_warp_count():
    r = hip("__global__ void k() { __shared__ float s[1024 / warpSize]; }\n")
    assert "__shared__ float s[1024 / 32];" in r.text and kinds(r, fixed=True) == ["shared-warp-count"]
    back = cuda("__global__ void k() { __shared__ float s[NB / 64]; }\n")
    assert "__shared__ float s[NB / 32];" in back.text and kinds(back, fixed=True) == ["shared-warp-count"]


def test_unfixable_findings_carry_exact_regions():
    src = ("__global__ void k(float* p) {\n"
           "  float v;\n"
           "  asm volatile(\"ld.global.cg.f32 %0, [%1];\"\n"
           "               : \"=f\"(v) : \"l\"(p));\n"
           "  __nanosleep(100); v += __ldcg(p + 1);\n"
           "  p[0] = v;\n}\n")
    r = hip(src)
    asm = next(h for h in r.hazards if h.kind == "inline-asm")
    assert (asm.line, asm.region.start_line, asm.region.end_line) == (3, 3, 4)
    assert asm.region.text.splitlines()[0].strip().startswith("asm volatile")
    assert asm.region.function == "k" and asm.severity == "error" and not asm.fixed
    ptx = next(h for h in r.hazards if h.kind == "ptx-intrinsic")
    assert ptx.line == 5 and "__nanosleep" in ptx.message
    assert [u.name for u in r.unconverted] == ["__nanosleep"]
    hint = next(h for h in r.hazards if h.kind == "cache-hint")       # a cache hint is safe to rewrite
    assert hint.fixed and "(*(p + 1))" in r.text


def test_amd_only_features_going_to_cuda():
    src = ("__global__ void k(int* o) {\n  int l = __lane_id();\n  o[l] = __builtin_amdgcn_readfirstlane(l);\n"
           "  asm volatile(\"s_nop 0\");\n}\n")
    r = cuda(src)
    assert set(kinds(r, fixed=False)) >= {"amd-intrinsic", "inline-asm"}
    # __lane_id gets a helper (the %laneid register); the AMD builtin cannot be translated by rules
    assert sorted(h.line for h in r.hazards if h.kind == "amd-intrinsic") == [3]
    assert "int l = portkern_lane_id();" in r.text


def test_wmma_cooperative_groups_textures_and_dynamic_parallelism():
    src = ("#include <mma.h>\n#include <cooperative_groups.h>\nnamespace cg = cooperative_groups;\n"
           "texture<float, 1> tex_ref;\n"
           "__global__ void child() {}\n"
           "__global__ void k(float* o, cudaTextureObject_t t) {\n"
           "  nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, half, nvcuda::wmma::row_major> a;\n"
           "  cg::grid_group g = cg::this_grid();\n  g.sync();\n"
           "  auto tile = cg::tiled_partition<32>(cg::this_thread_block());\n"
           "  o[0] = tex1Dfetch<float>(t, 0);\n"
           "  child<<<1, 1>>>();\n}\n")
    r = hip(src)
    found = set(kinds(r))
    assert {"unsupported-header", "wmma", "cooperative-grid-sync", "cooperative-groups", "texture-reference",
            "texture", "dynamic-parallelism"} <= found
    assert "#include <hip/hip_cooperative_groups.h>" in r.text
    assert "hipTextureObject_t" in r.text
    wmma = next(h for h in r.hazards if h.kind == "wmma")
    assert "rocWMMA" in wmma.message and wmma.line == 7


def test_dynamic_shared_memory_attribute_and_constant_warp_size():
    src = ("void setup() { cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, 98304); }\n"
           "__global__ __launch_bounds__(256, 2) void k() { constexpr int w = warpSize; }\n"
           "#if __CUDA_ARCH__ >= 800\n#endif\n")
    r = hip(src)
    assert {"large-dynamic-shared", "warpsize-constexpr", "launch-bounds", "arch-check"} <= set(kinds(r))
    big = next(h for h in r.hazards if h.kind == "large-dynamic-shared")
    assert "hipFuncSetAttribute" not in big.region.text  # the region is the original source
    assert "hipFuncSetAttribute(k, hipFuncAttributeMaxDynamicSharedMemorySize, 98304)" in r.text


def test_hip_wide_shuffles_fixed_for_cuda():
    src = ("__device__ float s(float v) {\n  for (int o = 32; o > 0; o >>= 1) v += __shfl_down(v, o, 64);\n"
           "  return v;\n}\n__global__ void k(float* p) { int lane = threadIdx.x % 64; p[lane] = s(1.f); }\n")
    r = cuda(src)
    assert "for (int o = (warpSize / 2); o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o, warpSize);" in r.text
    assert "threadIdx.x % warpSize" in r.text


LANE_MASKS = """__global__ void k(const float* x, int* o) {
  int lane = threadIdx.x % 32;
  unsigned b = __ballot_sync(0xffffffff, x[threadIdx.x] > 0);
  unsigned lt = (1u << lane) - 1;
  uint32_t ge = ~0u << lane;
  unsigned int low = 0xffffffffu >> (32 - lane);
  o[threadIdx.x] = __popc(b & lt) + __popc(b & ge) + __popc(b & low);
  if (b & (1 << (threadIdx.x & 31))) o[0] = 1;
}
"""


def test_lane_mask_shifts_next_to_a_ballot_are_widened():
    r = hip(LANE_MASKS)
    assert "unsigned long long lt = (1ull << lane) - 1;" in r.text
    assert "unsigned long long ge = ~0ull << lane;" in r.text
    assert "unsigned long long low = ~0ull >> (warpSize - lane);" in r.text
    assert "if (b & (1ull << (threadIdx.x & (warpSize - 1)))) o[0] = 1;" in r.text
    assert "__popcll(b & lt) + __popcll(b & ge) + __popcll(b & low)" in r.text
    shifts = [h for h in r.hazards if h.kind == "lane-mask-shift"]
    assert [h.line for h in shifts] == [4, 5, 6, 8] and all(h.fixed for h in shifts)
    assert shifts[0].region.function == "k" and shifts[0].region.text.strip() == "unsigned lt = (1u << lane) - 1;"
    assert "lane-mask-32bit" not in kinds(r)   # the all-ones literal of a shift is this rule's, not that one's


def test_lane_mask_shifts_reported_where_a_fix_is_not_provably_safe():
    src = ("__global__ void k(const float* x, unsigned* o, int n) {\n"
           "  int lane = threadIdx.x & 31;\n"
           "  unsigned b = __ballot_sync(0xffffffff, x[threadIdx.x] > 0);\n"
           "  unsigned lt = (1u << lane) - 1;\n"
           "  o[0] = __popc(b & lt);\n"
           "  o[1] = lt;\n"
           "  o[2] = b & (0xffffffffu >> n);\n"
           "  int below = (1 << lane) - 1;\n"
           "  o[3] = __popc(b & below);\n"
           "}\n"
           "__global__ void flags(unsigned* f) {\n"
           "  int laneid = threadIdx.x % warpSize;\n"
           "  atomicOr(f, 1u << laneid);\n"
           "}\n")
    r = hip(src)
    shifts = {h.line: h for h in r.hazards if h.kind == "lane-mask-shift"}
    assert sorted(shifts) == [4, 7, 8, 13] and not any(h.fixed for h in shifts.values())
    assert "'lt' is also used away from the ballot (line 6)" in shifts[4].message
    assert "~0ull >> (warpSize - n)" in shifts[7].message
    assert "'below' is declared 'int'" in shifts[8].message
    assert "no ballot in this function" in shifts[13].message and shifts[13].region.function == "flags"
    for kept in ("unsigned lt = (1u << lane) - 1;", "(0xffffffffu >> n)", "int below = (1 << lane) - 1;",
                 "atomicOr(f, 1u << laneid);"):
        assert kept in r.text


def test_ordinary_shifts_are_not_lane_masks():
    src = ("__global__ void k(const float* x, unsigned* o, int bit, int n) {\n"
           "  unsigned b = __ballot_sync(0xffffffff, x[threadIdx.x] > 0);\n"
           "  int lane = threadIdx.x % 32;\n"
           "  unsigned v = (unsigned)n << 2;\n"
           "  unsigned flag = 1u << bit;\n"
           "  int big = 1 << 20, half = n >> 1;\n"
           "  unsigned long long wide = 1ull << lane;\n"
           "  o[lane] = v + flag + big + half + (x[0] > 0 ? 3u << bit : 0u) + (unsigned)wide;\n"
           "  o[32 + lane] = __popc(b);\n"
           "}\n"
           "int host_mask(int lane) { return 1u << lane; }\n")
    r = hip(src)
    assert "lane-mask-shift" not in kinds(r)
    for kept in ("(unsigned)n << 2", "1u << bit", "1 << 20", "n >> 1", "1ull << lane", "3u << bit",
                 "return 1u << lane;"):
        assert kept in r.text


COMPACTION = r"""
#include <cuda_runtime.h>
// Warp-level stream compaction: every warp writes its positive x, in lane order, to a run of out
// that one lane reserves with an atomic; a lane's place in the run is the number of kept lanes below it.
__global__ void compact_positive(const float* x, float* out, int* count, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int lane = threadIdx.x % 32;
  bool keep = i < n && x[i] > 0.0f;
  unsigned int keep_mask = __ballot_sync(0xffffffff, keep);
  int rank = __popc(keep_mask & ((1u << lane) - 1));
  int base = 0;
  if (lane == 0) base = atomicAdd(count, __popc(keep_mask));
  base = __shfl_sync(0xffffffff, base, 0);
  if (keep) out[base + rank] = x[i];
}
"""


def test_translated_lane_mask_compaction_is_right_at_width_64():
    """On the CPU emulator: the CUDA kernel is wrong on a 64-lane wavefront, the translated one right,
    and putting back only the 32-bit '1u << lane' makes it wrong again (the shift rule is needed)."""
    emu = get("emu")
    if not emu.available().ok:
        pytest.skip("no host C++ compiler for the emulator")
    rng = np.random.default_rng(11)
    x = rng.uniform(-1.0, 1.0, 3000).astype(np.float32)
    x[(np.arange(x.size) % 64) >= 32] += 0.5          # more kept lanes in the upper half of each 64
    want = np.sort(x[x > 0])

    def run(source: str, name: str) -> np.ndarray:
        compiled = emu.compile(source, None, CompileOptions(entries=["compact_positive"], wavefront=64), name=name)
        out = np.zeros(x.size, np.float32)
        count = np.zeros(1, np.int32)
        emu.load(compiled, "compact_positive")(x, out, count, np.int32(x.size), grid=(x.size + 127) // 128,
                                               block=128)
        return np.sort(out[:count[0]])

    result = hip(COMPACTION)
    assert "int rank = __popcll(keep_mask & ((1ull << lane) - 1));" in result.text
    assert any(h.kind == "lane-mask-shift" and h.fixed for h in result.hazards)
    got = run(result.text, "lanemask_fixed")
    assert got.shape == want.shape and np.array_equal(got, want)
    original = run(COMPACTION, "lanemask_cuda")
    assert original.shape != want.shape or not np.array_equal(original, want)
    only_shift_left = result.text.replace("1ull << lane", "1u << lane")
    unfixed = run(only_shift_left, "lanemask_32bit_shift")
    assert unfixed.shape != want.shape or not np.array_equal(unfixed, want)


HELPER_OVERLOADS = """#include <cuda_runtime.h>
#include <cuda.h>
#ifdef __DRIVER_TYPES_H__
static const char *_cudaGetErrorEnum(cudaError_t error) { return cudaGetErrorName(error); }
#endif
#ifdef CUDA_DRIVER_API
static const char *_cudaGetErrorEnum(CUresult error) {
  const char *ret = NULL;
  cuGetErrorName(error, &ret);
  return ret;
}
#endif
static int g(float x) { return 1; }
static int g(double x) { return 2; }
"""


@pytest.mark.parametrize("defines", [[], ["-DCUDA_DRIVER_API"]], ids=["runtime", "driver-too"])
def test_overloads_that_become_one_signature_compile_once(defines):
    # cudaError_t and CUresult are both hipError_t: one of the two definitions is compiled, whichever
    # preprocessor branches are active; overloads that stay distinct are left alone.
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    r = translate_source(HELPER_OVERLOADS, "hip", filename="helper.h")
    assert r.text.count("#define PORTKERN_DEFINED__cudaGetErrorEnum_4") == 1
    assert r.text.count("#ifndef PORTKERN_DEFINED__cudaGetErrorEnum_4") == 1
    assert "static int g(float x)" in r.text and "static int g(double x)" in r.text and "PORTKERN_DEFINED_g" not in r.text
    assert "collapsed-overload" in kinds(r, fixed=True)
    clang = shutil.which("clang-19")
    if not clang or not Path("/usr/include/hip/hip_runtime.h").is_file():
        pytest.skip("clang-19 with HIP headers not installed")
    tmp = Path(tempfile.mkdtemp(prefix="portkern_hip_"))
    (tmp / "h.hip").write_text(r.text + "int main() { return _cudaGetErrorEnum(hipSuccess)[0]; }\n")
    proc = subprocess.run([clang, "-x", "hip", "--offload-arch=gfx942", "-nogpulib", "-std=c++17", "-fsyntax-only",
                           *defines, str(tmp / "h.hip")], capture_output=True, text=True, timeout=300)
    shutil.rmtree(tmp, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
