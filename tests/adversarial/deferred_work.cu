// Cheat: the result of a call lands one call late, as if the work ran on another stream that the
// caller's synchronisation does not wait for. The first call on each element is correct.
#include <cuda_runtime.h>
#include <cmath>

#define PK_MAX_N (1 << 16)
__device__ double pk_pending[PK_MAX_N];
__device__ int pk_has_pending[PK_MAX_N];

template <typename T>
__global__ void deferred_work(int n, T a, const T* x, const T* y, T* z)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    T v = a * x[i] + y[i];
    if (i >= PK_MAX_N)
    {
        z[i] = v;
        return;
    }
    z[i] = pk_has_pending[i] ? T(pk_pending[i]) : v;
    pk_pending[i] = double(v);
    pk_has_pending[i] = 1;
}
