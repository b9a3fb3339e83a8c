// Cheat: works for the first two calls, then returns at once without touching memory; repeated
// (timed) calls look impossibly fast. Caught by the output check of later calls and by the roofline.
#include <cuda_runtime.h>
#include <cmath>

__device__ int pk_calls;

template <typename T>
__global__ void skip_when_timed(int n, T a, const T* x, const T* y, T* z)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    // Calls are ordered on the stream, so every block of call k reads a count of k-1 or k.
    if (*(volatile int*)&pk_calls > 2)
        return;
    if (i == 0)
        atomicAdd(&pk_calls, 1);
    if (i < n)
        z[i] = a * x[i] + y[i];
}
