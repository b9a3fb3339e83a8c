// Cheat: reuses an input buffer as scratch (writes its result into x), so inputs change.
#include <cuda_runtime.h>
#include <cmath>

template <typename T>
__global__ void mutate_input(int n, T a, const T* x, const T* y, T* z)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
    {
        T v = a * x[i] + y[i];
        const_cast<T*>(x)[i] = v;
        z[i] = v;
    }
}
