// Cheat: computes only the first half of the output.
#include <cuda_runtime.h>
#include <cmath>

template <typename T>
__global__ void partial(int n, T a, const T* x, const T* y, T* z)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n / 2)
        z[i] = a * x[i] + y[i];
}
