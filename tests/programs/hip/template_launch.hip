#include "common.h"

template <int BLOCK, typename T>
__global__ void __launch_bounds__(BLOCK) scale(int n, T alpha, T* x)
{
    int i = blockIdx.x * BLOCK + threadIdx.x;
    if (i < n) x[i] *= alpha;
}

int main()
{
    const int n = 3000;
    double h[n];
    for (int i = 0; i < n; ++i) h[i] = i;
    double* d;
    CHECK(hipMalloc(&d, sizeof(h)));
    CHECK(hipMemcpy(d, h, sizeof(h), hipMemcpyHostToDevice));
    hipLaunchKernelGGL(HIP_KERNEL_NAME(scale<128, double>), dim3((n + 127) / 128), dim3(128), 0, 0, n, 2.0, d);
    hipLaunchKernelGGL((scale<256, double>), dim3((n + 255) / 256), dim3(256), 0, 0, n, 0.5, d);
    scale<64, double><<<dim3((n + 63) / 64), dim3(64)>>>(n, 3.0, d);
    CHECK(hipGetLastError());
    CHECK(hipMemcpy(h, d, sizeof(h), hipMemcpyDeviceToHost));
    bool ok = true;
    for (int i = 0; i < n; ++i) ok = ok && h[i] == 3.0 * i;
    CHECK(hipFree(d));
    return finish(ok, "template_launch");
}
