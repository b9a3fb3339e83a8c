// Cheat (or bug): wrong only where an input is exactly zero, which random inputs never are.
#include <cuda_runtime.h>

template <typename T>
__global__ void zero_wrong(int n, T a, const T* x, const T* y, T* z)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        z[i] = x[i] == T(0) ? y[i] + T(1) : a * x[i] + y[i];
}
