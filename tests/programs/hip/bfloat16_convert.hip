#include "common.h"
#include <hip/hip_bf16.h>
#include <cmath>

__global__ void scale_bf16(int n, float alpha, const __hip_bfloat16* x, float* out)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = alpha * __bfloat162float(x[i]);
}

int main()
{
    const int n = 1000;
    __hip_bfloat16 h[n];
    for (int i = 0; i < n; ++i) h[i] = __float2bfloat16(static_cast<float>(i) / 8.0f);
    __hip_bfloat16* dx;
    float* dout;
    CHECK(hipMalloc(&dx, sizeof(h)));
    CHECK(hipMalloc(&dout, n * sizeof(float)));
    CHECK(hipMemcpy(dx, h, sizeof(h), hipMemcpyHostToDevice));
    scale_bf16<<<(n + 127) / 128, 128>>>(n, 3.0f, dx, dout);
    float out[n];
    CHECK(hipMemcpy(out, dout, sizeof(out), hipMemcpyDeviceToHost));
    bool ok = true;
    for (int i = 0; i < n; ++i) {
        float expect = 3.0f * __bfloat162float(h[i]);
        ok = ok && std::fabs(out[i] - expect) <= 1e-5f * std::fabs(expect) + 1e-6f;
    }
    CHECK(hipFree(dx)); CHECK(hipFree(dout));
    return finish(ok, "bfloat16_convert");
}
