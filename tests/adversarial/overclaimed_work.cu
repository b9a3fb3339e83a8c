// An honest z = a*x + y whose manifest entry claims ten times the bytes it moves. Any measured time
// then beats the roofline: the harness flags it "above-roofline" as a bug, never as a speedup.
#include <cuda_runtime.h>
#include <cmath>

template <typename T>
__global__ void overclaimed_work(int n, T a, const T* x, const T* y, T* z)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        z[i] = a * x[i] + y[i];
}
