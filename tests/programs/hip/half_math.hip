#include "common.h"
#include <hip/hip_fp16.h>
#include <cmath>

__global__ void axpy_half2(int n2, __half2 a, const __half2* x, __half2* y)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n2) y[i] = __hfma2(a, x[i], y[i]);
}

__global__ void to_float(int n, const __half* h, float* f)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) f[i] = __half2float(h[i]);
}

int main()
{
    const int n = 2048, n2 = n / 2;
    __half hx[n], hy[n];
    for (int i = 0; i < n; ++i) { hx[i] = __float2half(0.25f * (i % 8)); hy[i] = __float2half(1.0f); }
    __half *dx, *dy;
    float* df;
    CHECK(hipMalloc(&dx, n * sizeof(__half)));
    CHECK(hipMalloc(&dy, n * sizeof(__half)));
    CHECK(hipMalloc(&df, n * sizeof(float)));
    CHECK(hipMemcpy(dx, hx, sizeof(hx), hipMemcpyHostToDevice));
    CHECK(hipMemcpy(dy, hy, sizeof(hy), hipMemcpyHostToDevice));
    __half2 a = __floats2half2_rn(2.0f, 2.0f);
    axpy_half2<<<(n2 + 127) / 128, 128>>>(n2, a, reinterpret_cast<__half2*>(dx), reinterpret_cast<__half2*>(dy));
    to_float<<<(n + 255) / 256, 256>>>(n, dy, df);
    float out[n];
    CHECK(hipMemcpy(out, df, sizeof(out), hipMemcpyDeviceToHost));
    bool ok = true;
    for (int i = 0; i < n; ++i) ok = ok && std::fabs(out[i] - (1.0f + 0.5f * (i % 8))) < 1e-3f;
    CHECK(hipFree(dx)); CHECK(hipFree(dy)); CHECK(hipFree(df));
    return finish(ok, "half_math");
}
