#include "common.h"

__global__ void square(float* x, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = x[i] * x[i];
}

int main()
{
    const int n = 1 << 16;
    float* x = nullptr;
    CHECK(hipMallocManaged(&x, n * sizeof(float)));
    for (int i = 0; i < n; ++i) x[i] = static_cast<float>(i % 100);
    int device = 0;
    CHECK(hipGetDevice(&device));
    hipStream_t stream;
    CHECK(hipStreamCreate(&stream));
    CHECK(hipMemAdvise(x, n * sizeof(float), hipMemAdviseSetPreferredLocation, device));
    CHECK(hipMemPrefetchAsync(x, n * sizeof(float), device, stream));
    square<<<(n + 255) / 256, 256, 0, stream>>>(x, n);
    CHECK(hipMemPrefetchAsync(x, n * sizeof(float), hipCpuDeviceId, stream));
    CHECK(hipStreamSynchronize(stream));
    bool ok = true;
    for (int i = 0; i < n; ++i) ok = ok && x[i] == static_cast<float>((i % 100) * (i % 100));
    CHECK(hipStreamDestroy(stream));
    CHECK(hipFree(x));
    return finish(ok, "managed_prefetch");
}
