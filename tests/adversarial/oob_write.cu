// Bug: the last thread also writes one element past the end of the output.
#include <cuda_runtime.h>
#include <cmath>

template <typename T>
__global__ void oob_write(int n, T a, const T* x, const T* y, T* z)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        z[i] = a * x[i] + y[i];
    if (i == n - 1)
        z[n] = T(0);
}
