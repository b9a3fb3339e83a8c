// Cheat: remembers, per element, the output buffer and input value it last computed and skips the
// work when both recur, trusting the old result to still be in place. Fresh buffers with fresh
// seeds never repeat; repeated launches on the same buffers with poisoned outputs catch it.
#include <cuda_runtime.h>
#include <cmath>

#define PK_MAX_N (1 << 16)
__device__ unsigned long long pk_memo_out[PK_MAX_N];
__device__ double pk_memo_x[PK_MAX_N];

template <typename T>
__global__ void memo_by_buffer(int n, T a, const T* x, const T* y, T* z)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    int slot = i % PK_MAX_N;
    unsigned long long out = (unsigned long long)(z + i);
    if (pk_memo_out[slot] == out && pk_memo_x[slot] == double(x[i]))
        return;
    z[i] = a * x[i] + y[i];
    pk_memo_out[slot] = out;
    pk_memo_x[slot] = double(x[i]);
}
