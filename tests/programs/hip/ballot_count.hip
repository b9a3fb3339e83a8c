#include "common.h"

// Counts positive elements with a wavefront ballot; the mask is 64 bits wide on every vendor in HIP.
__global__ void count_positive(int n, const int* x, unsigned long long* count)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    bool positive = i < n && x[i] > 0;
    unsigned long long mask = __ballot(positive);
    if (threadIdx.x % warpSize == 0) atomicAdd(count, static_cast<unsigned long long>(__popcll(mask)));
}

int main()
{
    const int n = 100000;
    int* h = new int[n];
    unsigned long long expect = 0;
    for (int i = 0; i < n; ++i) { h[i] = (i * 31) % 17 - 8; expect += h[i] > 0; }
    int* dx;
    unsigned long long* dcount;
    CHECK(hipMalloc(&dx, n * sizeof(int)));
    CHECK(hipMalloc(&dcount, sizeof(unsigned long long)));
    CHECK(hipMemcpy(dx, h, n * sizeof(int), hipMemcpyHostToDevice));
    CHECK(hipMemset(dcount, 0, sizeof(unsigned long long)));
    count_positive<<<(n + 255) / 256, 256>>>(n, dx, dcount);
    unsigned long long got = 0;
    CHECK(hipMemcpy(&got, dcount, sizeof(got), hipMemcpyDeviceToHost));
    CHECK(hipFree(dx)); CHECK(hipFree(dcount));
    delete[] h;
    return finish(got == expect, "ballot_count");
}
