from __future__ import annotations

import pytest

from portkern.errors import TranslateError
from portkern.translate import TranslationResult, translate_source


def hip(text: str, **kw) -> TranslationResult:
    return translate_source(text, "hip", filename="t.cu", **kw)


def cuda(text: str, **kw) -> TranslationResult:
    return translate_source(text, "cuda", filename="t.hip", **kw)


def test_runtime_types_enums_and_headers_to_hip():
    r = hip('#include <cuda_runtime.h>\n#include <cuda_fp16.h>\n#include "mine.cuh"\n'
            "cudaError_t e = cudaMemcpy(d, h, n, cudaMemcpyHostToDevice);\ncudaDeviceProp p;\n")
    assert r.text == ('#include <hip/hip_runtime.h>\n#include <hip/hip_fp16.h>\n#include "mine.cuh"\n'
                      "hipError_t e = hipMemcpy(d, h, n, hipMemcpyHostToDevice);\nhipDeviceProp_t p;\n")
    assert r.converted["runtime"] == 4 and r.converted["headers"] == 2
    assert r.local_includes == ["mine.cuh"]


def test_strings_and_comments_are_never_translated():
    src = 'printf("cudaMalloc failed: %s", cudaGetErrorString(e)); // cudaMalloc\n/* cudaFree */\n'
    r = hip(src)
    # (a .cu file calling the runtime gets the runtime header nvcc would have included)
    assert r.text == ('#include <hip/hip_runtime.h>\n'
                      'printf("cudaMalloc failed: %s", hipGetErrorString(e)); // cudaMalloc\n/* cudaFree */\n')


def test_macro_bodies_and_inactive_branches_are_translated():
    src = ("#if 0\ncudaStream_t unused;\n#else\n#define CHECK(x) do { cudaError_t e_ = (x); \\\n"
           "  if (e_ != cudaSuccess) abort(); } while (0)\n#endif\n")
    r = hip(src)
    assert "hipStream_t unused;" in r.text
    assert "hipError_t e_ = (x); \\\n  if (e_ != hipSuccess)" in r.text


def test_member_access_is_not_renamed_and_unknown_vendor_names_are_reported():
    r = hip("int n = cfg.cudaMalloc;\n\nvoid f() { cudaNotAThing(1); }\n")
    assert "cfg.cudaMalloc" in r.text
    assert [(u.name, u.line, u.col) for u in r.unconverted] == [("cudaNotAThing", 3, 12)]


def test_project_definitions_are_not_reported():
    r = hip("#define CUDA_CHECK(x) x\nvoid cudaHelper();\nvoid g() { CUDA_CHECK(cudaHelper()); }\n")
    assert r.unconverted == []


def test_names_without_counterpart_are_reported_as_such():
    # documented without a HIP counterpart (the API map), reported with its library
    r = hip("cudaStreamSetAttribute(s, cudaStreamAttributeAccessPolicyWindow, &v);\n")
    assert [(u.name, u.reason, u.library) for u in r.unconverted] == [
        ("cudaStreamSetAttribute", "no counterpart", "runtime"),
        ("cudaStreamAttributeAccessPolicyWindow", "no counterpart", "runtime")]


def test_blas_names_hipblas_by_default_and_rocblas_with_roc():
    src = "#include <cublas_v2.h>\ncublasHandle_t h; cublasSgemm_v2(h, CUBLAS_OP_N, CUBLAS_OP_T);\n"
    assert hip(src).text == "#include <hipblas/hipblas.h>\nhipblasHandle_t h; hipblasSgemm(h, HIPBLAS_OP_N, HIPBLAS_OP_T);\n"
    assert hip(src, roc=True).text == ("#include <rocblas/rocblas.h>\nrocblas_handle h; "
                                       "rocblas_sgemm(h, rocblas_operation_none, rocblas_operation_transpose);\n")
    back = cuda("rocblas_handle h; rocblas_dgemm(h);\n", roc=True)
    assert back.text == "cublasHandle_t h; cublasDgemm(h);\n"


def test_cub_namespace_renamed_only_before_scope_operator():
    r = hip("#include <cub/cub.cuh>\nusing BR = cub::BlockReduce<float, 128>;\nint cub = 3;\n")
    assert r.text == "#include <hipcub/hipcub.hpp>\nusing BR = hipcub::BlockReduce<float, 128>;\nint cub = 3;\n"


def test_thrust_stays_thrust():
    src = "#include <thrust/device_vector.h>\nthrust::device_vector<float> v(10);\n"
    assert hip(src).text == src


def test_chevrons_kept_by_default_and_ggl_on_request():
    src = "k<<<grid, 256, smem, stream>>>(a, b);\nns::t<float, 4><<<1, 64>>>(x);\n"
    assert hip(src).text == src
    r = hip(src, launch_syntax="ggl")
    assert r.text == ("hipLaunchKernelGGL(k, dim3(grid), dim3(256), smem, stream, a, b);\n"
                      "hipLaunchKernelGGL(HIP_KERNEL_NAME(ns::t<float, 4>), dim3(1), dim3(64), 0, 0, x);\n")
    assert r.converted["launch"] == 2


def test_ggl_to_chevron_with_templates_and_kernel_name_macro():
    src = ("hipLaunchKernelGGL(HIP_KERNEL_NAME(k<float, 4>), dim3(g), dim3(b), 0, s, x, n);\n"
           "hipLaunchKernelGGL((t<int, 2>), g, b, shm, 0, y);\n"
           "hipLaunchKernelGGL(u<int, 8>, g, b, 0, 0);\n")
    r = cuda(src)
    assert r.text == ("k<float, 4><<<dim3(g), dim3(b), 0, s>>>(x, n);\n"
                      "t<int, 2><<<g, b, shm, 0>>>(y);\n"
                      "u<int, 8><<<g, b, 0, 0>>>();\n")


def test_ggl_inside_macro_definition():
    src = ("#define LAUNCH(kernel_, grid_, ...) \\\n"
           "    hipLaunchKernelGGL(kernel_, grid_, dim3(64), 0, hipStreamDefault, __VA_ARGS__)\n")
    r = cuda(src)
    assert r.text == ("#define LAUNCH(kernel_, grid_, ...) \\\n"
                      "    kernel_<<<grid_, dim3(64), 0, cudaStreamDefault>>>(__VA_ARGS__)\n")


def test_warp_intrinsics_lowered_for_hip_and_raised_for_cuda():
    src = ("v += __shfl_down_sync(0xffffffff, v, o);\nb = __ballot_sync(FULL, p);\n"
           "u = __any_sync(__activemask(), p);\n__syncwarp();\n")
    r = hip("#define FULL 0xffffffffu\n" + src)
    assert "v += __shfl_down(v, o);" in r.text
    assert "b = __ballot(p);" in r.text
    assert "u = __any(p);" in r.text
    assert "__builtin_amdgcn_wave_barrier();" in r.text
    back = cuda(r.text)
    assert "v += __shfl_down_sync(0xffffffffu, v, o);" in back.text
    assert "__ballot_sync(0xffffffffu, p)" in back.text
    assert "__syncwarp();" in back.text


def test_hip_sync_forms_with_64_bit_masks_become_32_bit_masks():
    r = cuda("v = __shfl_xor_sync(0xffffffffffffffffull, v, 1);\n")
    assert r.text == "v = __shfl_xor_sync(0xffffffffu, v, 1);\n"


def test_old_hip_index_spellings():
    assert cuda("int i = hipThreadIdx_x + hipBlockIdx_x * hipBlockDim_x;\n").text == \
        "int i = threadIdx.x + blockIdx.x * blockDim.x;\n"


def test_round_trip_restores_cuda_names():
    src = ("#include <cuda_runtime.h>\nvoid f(float* d, cudaStream_t s) {\n"
           "  cudaMemsetAsync(d, 0, 4, s); cudaEvent_t e; cudaEventCreate(&e); cudaEventRecord(e, s);\n}\n")
    assert cuda(hip(src).text).text == src


def test_bad_options_raise_typed_errors():
    with pytest.raises(TranslateError, match="dialect"):
        translate_source("x", "opencl")
    with pytest.raises(TranslateError, match="launch syntax"):
        translate_source("x", "hip", launch_syntax="triple")


def test_result_is_a_json_round_tripping_record():
    r = hip("__global__ void k() { asm(\"trap;\"); cudaNoSuch(); }\n")
    again = TranslationResult.from_dict(r.to_dict())
    assert again == r
    assert again.hazards[0].region.function == "k" and again.unconverted[0].name == "cudaNoSuch"
