// Cheat: correct outputs, but from the third call on it leaves one element of its read-only input
// changed (a scratch write it never undoes). Validation's first calls pass; the timed calls' inputs
// no longer match what the kernel was given.
#include <cuda_runtime.h>

__device__ int pk_timed_calls;

template <typename T>
__global__ void mutate_when_timed(int n, T a, const T* x, const T* y, T* z)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    bool late = *(volatile int*)&pk_timed_calls > 2;
    if (i == 0)
        atomicAdd(&pk_timed_calls, 1);
    if (i < n) {
        T xi = x[i];
        z[i] = a * xi + y[i];
        if (late && i == n / 2)
            const_cast<T*>(x)[i] = xi + T(1);
    }
}
