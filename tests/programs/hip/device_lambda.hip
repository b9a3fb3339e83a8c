#include "common.h"

template <typename F>
__global__ void apply(int n, float* x, F f)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = f(x[i], i);
}

constexpr float cube(float v) { return v * v * v; }

__global__ void cubes(int n, float* x)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = cube(x[i]);   // a constexpr host function called on the device
}

int main()
{
    const int n = 777;
    float h[n];
    for (int i = 0; i < n; ++i) h[i] = 1.0f + (i % 5);
    float* d;
    CHECK(hipMalloc(&d, sizeof(h)));
    CHECK(hipMemcpy(d, h, sizeof(h), hipMemcpyHostToDevice));
    float offset = 0.5f;
    apply<<<(n + 63) / 64, 64>>>(n, d, [=] __device__(float v, int i) { return v + offset * (i % 3); });
    cubes<<<(n + 63) / 64, 64>>>(n, d);
    float out[n];
    CHECK(hipMemcpy(out, d, sizeof(out), hipMemcpyDeviceToHost));
    bool ok = true;
    for (int i = 0; i < n; ++i) {
        float v = h[i] + 0.5f * (i % 3);
        ok = ok && out[i] == v * v * v;
    }
    CHECK(hipFree(d));
    return finish(ok, "device_lambda");
}
