"""clang's ``_Float16`` (rocBLAS's ``rocblas_half``) going to CUDA: nvcc 13 stops with an internal error on
it in device code, so it becomes ``portkern_half``, a ``__half`` with _Float16's conversions and arithmetic.
Checked with nvcc (compile) and on the CPU emulator (values against numpy's float16)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from portkern.backends import get

from portkern.model import CompileOptions
from portkern.translate import translate_source

HALF_HIP = r"""
#include <hip/hip_runtime.h>
typedef _Float16 half_t;
typedef half_t half2_t __attribute__((ext_vector_type(2)));
extern "C" __device__ half2_t llvm_fma_v2f16(half2_t, half2_t, half2_t) __asm("llvm.fma.v2f16");

template <typename T>
__device__ T twice(T v) { return v + v; }

__global__ void half_ops(int n, float alpha_f, const half_t* x, half_t* y, float* widened, half_t* fused)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if(i < n)
    {
        half_t alpha = alpha_f;                  // float -> half, implicitly
        half_t v = alpha * x[i] + y[i];          // rounded to half after each operation
        v -= 1;                                  // half with an integer stays half
        widened[i] = x[i] * 0.1f;                // half with float is float
        half2_t a = {alpha, alpha};
        half2_t xy = {x[i], y[i]};
        half2_t r = llvm_fma_v2f16(a, xy, xy);   // one rounding per lane
        fused[i] = r[0] + twice<half_t>(r[1]) * half_t(0);
        y[i] = v < 0 ? -v : v;
    }
}
"""

HOST_USE = r"""
int host_checks()
{
    half_t h = 2;
    double d = h * 2.0;                          // double
    h += 1.5f;
    h++;
    bool same = h == 4.5 && !(h != 4.5f) && h > 1 && 0 < h;
    float f = h;
    return same && d == 4.0 && f == 4.5f && sizeof(half_t) == 2 ? 0 : 1;
}
"""


def cuda(text: str):
    return translate_source(text, "cuda", filename="half.hip")


def test_float16_becomes_a_half_with_its_arithmetic():
    r = cuda(HALF_HIP)
    assert "typedef _Float16" not in r.text and "typedef portkern_half half_t;" in r.text
    assert "struct portkern_half" in r.text and r.text.count("#define PORTKERN_HALF_DEFINED") == 1
    assert "#include <cuda_fp16.h>" in r.text
    fix = [h for h in r.hazards if h.kind == "clang-extension" and "_Float16" in h.message]
    assert len(fix) == 1 and fix[0].fixed and fix[0].line == 3


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("nvcc"), reason="nvcc is not installed")
def test_translated_half_code_compiles_with_nvcc(tmp_path):
    (tmp_path / "k.cu").write_text(cuda(HALF_HIP + HOST_USE).text)
    run = subprocess.run(["nvcc", "-std=c++17", "-arch=sm_90", "-c", "k.cu", "-o", "k.o"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def test_translated_half_kernel_matches_float16_on_the_emulator():
    emu = get("emu")
    if not emu.available().ok:
        pytest.skip("no host C++ compiler for the emulator")
    rng = np.random.default_rng(5)
    n = 300
    x = rng.uniform(-4, 4, n).astype(np.float16)
    y = rng.uniform(-4, 4, n).astype(np.float16)
    alpha = np.float32(1.37)
    compiled = emu.compile(cuda(HALF_HIP).text, None, CompileOptions(entries=["half_ops"]), name="half_ops")
    y_dev, widened, fused = y.copy(), np.zeros(n, np.float32), np.zeros(n, np.float16)
    emu.load(compiled, "half_ops")(np.int32(n), alpha, x, y_dev, widened, fused, grid=(n + 127) // 128, block=128)

    a16 = np.float16(alpha)
    v = (a16 * x + y) - np.float16(1)                      # numpy rounds float16 after each operation
    assert np.array_equal(y_dev, np.abs(v))
    assert np.array_equal(widened, x.astype(np.float32) * np.float32(0.1))
    want_fused = (np.float32(a16) * x.astype(np.float32) + x.astype(np.float32)).astype(np.float16)
    assert np.array_equal(fused, want_fused)
    assert not np.array_equal(y_dev, np.abs(x.astype(np.float32) * alpha + y - 1).astype(np.float16))
