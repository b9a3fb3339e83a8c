#include "common.h"
#include <hip/hip_bfloat16.h>
#include <cmath>

__global__ void add_bf16(int n, const hip_bfloat16* x, const hip_bfloat16* y, float* out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = static_cast<float>(x[i]) + static_cast<float>(y[i]);
}

int main()
{
    const int n = 512;
    hip_bfloat16 hx[n], hy[n];
    for (int i = 0; i < n; ++i) { hx[i] = hip_bfloat16(0.5f * i); hy[i] = hip_bfloat16(-0.25f * i); }
    hip_bfloat16 *dx, *dy;
    float* dout;
    CHECK(hipMalloc(&dx, sizeof(hx)));
    CHECK(hipMalloc(&dy, sizeof(hy)));
    CHECK(hipMalloc(&dout, n * sizeof(float)));
    CHECK(hipMemcpy(dx, hx, sizeof(hx), hipMemcpyHostToDevice));
    CHECK(hipMemcpy(dy, hy, sizeof(hy), hipMemcpyHostToDevice));
    add_bf16<<<(n + 127) / 128, 128>>>(n, dx, dy, dout);
    float out[n];
    CHECK(hipMemcpy(out, dout, sizeof(out), hipMemcpyDeviceToHost));
    bool ok = true;
    for (int i = 0; i < n; ++i) {
        float expect = static_cast<float>(hx[i]) + static_cast<float>(hy[i]);
        ok = ok && std::fabs(out[i] - expect) <= 1e-6f * (1.0f + std::fabs(expect));
    }
    CHECK(hipFree(dx)); CHECK(hipFree(dy)); CHECK(hipFree(dout));
    return finish(ok, "bfloat16_class");
}
