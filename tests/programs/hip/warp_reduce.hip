#include "common.h"

// A block sum written for any wavefront width: warpSize, never a literal.
__global__ void block_sum(int n, const int* x, int* out)
{
    extern __shared__ int partial[];
    int v = 0;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) v += x[i];
    for (int offset = warpSize / 2; offset > 0; offset /= 2) v += __shfl_down(v, offset);
    int lane = threadIdx.x % warpSize, warp = threadIdx.x / warpSize;
    if (lane == 0) partial[warp] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
        int total = 0;
        for (int w = 0; w < (blockDim.x + warpSize - 1) / warpSize; ++w) total += partial[w];
        atomicAdd(out, total);
    }
}

int main()
{
    const int n = 123457;
    int* h = new int[n];
    long long expect = 0;
    for (int i = 0; i < n; ++i) { h[i] = (i % 13) - 6; expect += h[i]; }
    int *dx, *dout;
    CHECK(hipMalloc(&dx, n * sizeof(int)));
    CHECK(hipMalloc(&dout, sizeof(int)));
    CHECK(hipMemcpy(dx, h, n * sizeof(int), hipMemcpyHostToDevice));
    CHECK(hipMemset(dout, 0, sizeof(int)));
    int device = 0, warp = 0;
    CHECK(hipGetDevice(&device));
    CHECK(hipDeviceGetAttribute(&warp, hipDeviceAttributeWarpSize, device));
    const int block = 256;
    hipLaunchKernelGGL(block_sum, dim3(64), dim3(block), (block / warp) * sizeof(int), 0, n, dx, dout);
    int got = 0;
    CHECK(hipMemcpy(&got, dout, sizeof(int), hipMemcpyDeviceToHost));
    CHECK(hipFree(dx)); CHECK(hipFree(dout));
    delete[] h;
    return finish(got == expect, "warp_reduce");
}
