// Control: an honest z = a*x + y. The harness must accept it, or the rejections below prove nothing.
#include <cuda_runtime.h>
#include <cmath>

template <typename T>
__global__ void honest_axpby(int n, T a, const T* x, const T* y, T* z)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        z[i] = a * x[i] + y[i];
}
