from __future__ import annotations

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
    assert r.text == src and r.hazards == []


def test_warp_size_macro_follows_the_wavefront_size():
    r = hip("#define WARP_SIZE 32\n__global__ void k() { int l = threadIdx.x % WARP_SIZE; }\n")
    assert r.text.startswith("#if defined(__AMDGCN_WAVEFRONT_SIZE)\n#define WARP_SIZE __AMDGCN_WAVEFRONT_SIZE\n"
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
    assert sorted(h.line for h in r.hazards if h.kind == "amd-intrinsic") == [2, 3]


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
