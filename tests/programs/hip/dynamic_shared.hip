#include "common.h"

// Reverses each block's slice through dynamic shared memory.
__global__ void reverse_blocks(int n, const int* in, int* out)
{
    HIP_DYNAMIC_SHARED(int, buffer)
    int base = blockIdx.x * blockDim.x;
    int t = threadIdx.x;
    if (base + t < n) buffer[t] = in[base + t];
    __syncthreads();
    int count = min(static_cast<int>(blockDim.x), n - base);
    if (t < count) out[base + t] = buffer[count - 1 - t];
}

int main()
{
    const int n = 1000, block = 96;
    int h[n], out[n];
    for (int i = 0; i < n; ++i) h[i] = i * 3;
    int *din, *dout;
    CHECK(hipMalloc(&din, sizeof(h)));
    CHECK(hipMalloc(&dout, sizeof(out)));
    CHECK(hipMemcpy(din, h, sizeof(h), hipMemcpyHostToDevice));
    hipLaunchKernelGGL(reverse_blocks, dim3((n + block - 1) / block), dim3(block), block * sizeof(int), 0, n, din, dout);
    CHECK(hipMemcpy(out, dout, sizeof(out), hipMemcpyDeviceToHost));
    bool ok = true;
    for (int b = 0; b * block < n; ++b) {
        int count = n - b * block < block ? n - b * block : block;
        for (int t = 0; t < count; ++t) ok = ok && out[b * block + t] == h[b * block + count - 1 - t];
    }
    CHECK(hipFree(din)); CHECK(hipFree(dout));
    return finish(ok, "dynamic_shared");
}
