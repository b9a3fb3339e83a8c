// Bug: each thread reads its lower neighbour's output, written by another thread without a barrier.
#include <cuda_runtime.h>

template <typename T>
__global__ void neighbour_race(int n, T a, const T* x, const T* y, T* z)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        z[i] = a * x[i] + y[i];
    if (i > 0 && i < n && threadIdx.x > 0) {
        T left = z[i - 1];                       // racy: thread i-1 may not have written it yet
        z[i] = left - (a * x[i - 1] + y[i - 1]) + a * x[i] + y[i];
    }
}
