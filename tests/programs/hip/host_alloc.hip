#include "common.h"

__global__ void fill(int* out, int n, int value)
{
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) out[i] = value + i;
}

int main()
{
    const int n = 4096;
    int* pinned = nullptr;
    int* mapped = nullptr;
    CHECK(hipHostMalloc(&pinned, n * sizeof(int)));                      // two-argument form
    CHECK(hipHostMalloc((void**)&mapped, n * sizeof(int), hipHostMallocMapped));
    int* dev;
    CHECK(hipMalloc(&dev, n * sizeof(int)));
    fill<<<8, 128>>>(dev, n, 7);
    CHECK(hipMemcpy(pinned, dev, n * sizeof(int), hipMemcpyDeviceToHost));
    int* mapped_dev = nullptr;
    CHECK(hipHostGetDevicePointer((void**)&mapped_dev, mapped, 0));
    fill<<<4, 64>>>(mapped_dev, n, 100);
    CHECK(hipDeviceSynchronize());
    bool ok = true;
    for (int i = 0; i < n; ++i) ok = ok && pinned[i] == 7 + i && mapped[i] == 100 + i;
    CHECK(hipHostFree(pinned));
    CHECK(hipFreeHost(mapped));
    CHECK(hipFree(dev));
    return finish(ok, "host_alloc");
}
