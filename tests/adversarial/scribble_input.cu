// Cheat: uses an input as scratch space and restores it before returning.
#include <cuda_runtime.h>

template <typename T>
__global__ void scribble_input(int n, T a, const T* x, const T* y, T* z)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        T* scratch = const_cast<T*>(x);
        T saved = scratch[i];
        scratch[i] = a * saved;
        z[i] = scratch[i] + y[i];
        scratch[i] = saved;
    }
}
