"""HIP code that only clang accepts, translated to CUDA: each construct gets a fix nvcc accepts (checked
with nvcc) or is reported; hard-coded wavefront constants going to CUDA are found."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from portkern.translate import translate_source

CLANG_ONLY_HIP = r"""
#include <hip/hip_runtime.h>
#include <type_traits>
typedef struct ihipStream_t* hipStream_t;
typedef float float4v __attribute__((ext_vector_type(4)));
typedef float float2v __attribute__((ext_vector_type(2)));
extern "C" __device__ float2v llvm_fma_v2f32(float2v, float2v, float2v) __asm("llvm.fma.v2f32");

__host__ inline int lead(unsigned x) { return __builtin_clz(x); }
__device__ inline int lead(unsigned x) { return __clz(x); }

template <typename> constexpr char type_name[] = "unknown";
template <> constexpr char type_name<float>[] = "float";

struct printer
{
    template <typename T>
    int put(T x) { return 0; }
    template <>
    int put<double>(double x) { return 2; }
};

template <int W>
__device__ float wave_sum(float v)
{
    for(int o = W / 2; o > 0; o >>= 1)
        v += __shfl_down(v, o, W);
    return v;
}

#define LAUNCH(...)                          \
    do                                       \
    {                                        \
        hipLaunchKernelGGL(__VA_ARGS__);     \
    } while(0)

__global__ void axpy4(int n, float a, const float4v* x, float4v* y)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if(i < n)
    {
        float4v t = a * x[i] + y[i];
        t[0] = wave_sum<warpSize>(t[0]);
        float2v p = {t[0], t[1]};
        p = llvm_fma_v2f32(p, p, p);
        y[i] = t;
        y[i][1] = p[1] + lead(unsigned(i));
    }
}

template <typename T>
__global__ void fill(T* p, T v) { p[threadIdx.x] = v; }

int run(float4v* x, float4v* y, float* f, hipStream_t stream)
{
    LAUNCH(axpy4, dim3(1), dim3(64), 0, stream, 64, 2.0f, x, y);
    LAUNCH((fill<float>), dim3(1), dim3(64), 0, stream, f, 1.0f);
    return printer{}.put(1.0) + int(sizeof(type_name<float>));
}
"""


def test_clang_only_constructs_get_fixes():
    r = translate_source(CLANG_ONLY_HIP, "cuda", filename="clang_only.hip")
    t = r.text
    assert "typedef portkern_ext_vector<float, 4> float4v;" in t
    assert "__asm" not in t and "return portkern_llvm_fma(portkern_0, portkern_1, portkern_2);" in t
    assert t.count("inline int lead(unsigned x)") == 1 and "#if defined(__CUDA_ARCH__)" in t
    assert 'constexpr char type_name<float>[6] = "float";' in t
    assert "int put(double x) { return 2; }" in t
    assert "wave_sum<32>(t[0])" in t
    assert "PORTKERN_LAUNCH_KERNEL(__VA_ARGS__);" in t
    # the runtime's own struct has a documented CUDA name, so the typedef stays as a valid redeclaration
    assert "ihipStream_t" not in t and "typedef struct CUstream_st* cudaStream_t;" in t
    fixed = {h.kind for h in r.hazards if h.fixed}
    assert {"clang-extension", "warpsize-constexpr", "launch-macro"} <= fixed


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("nvcc"), reason="nvcc is not installed")
def test_clang_only_constructs_compile_with_nvcc(tmp_path):
    r = translate_source(CLANG_ONLY_HIP, "cuda", filename="clang_only.hip")
    (tmp_path / "k.cu").write_text(r.text)
    run = subprocess.run(["nvcc", "-std=c++17", "-arch=sm_90", "-c", "k.cu", "-o", "k.o"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr + "\n" + r.text


def test_an_unknown_llvm_intrinsic_label_is_reported():
    src = 'extern "C" __device__ float my_rsq(float) __asm("llvm.amdgcn.rsq.f32");\n'
    r = translate_source(src, "cuda", filename="k.hip")
    h = next(h for h in r.hazards if h.kind == "clang-extension")
    assert not h.fixed and h.severity == "error" and "llvm.amdgcn.rsq.f32" in h.message


def test_hard_coded_wavefront_constants_are_found_going_to_cuda():
    src = ("__global__ void k(float* p)\n{\n    static constexpr int WARP = 64;\n"
           "    static constexpr int DIM_X = 64;\n    int nb\n        = 64; // warpSize on gfx9\n"
           "    p[threadIdx.x % WARP] = nb + DIM_X;\n}\n")
    r = translate_source(src, "cuda", filename="k.hip")
    found = sorted(h.line for h in r.hazards if h.kind == "warp-size-constant")
    assert found == [3, 6]          # DIM_X = 64 is a block size: not reported
