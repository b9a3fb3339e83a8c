#include <cuda_runtime.h>
__global__ void pixels(const unsigned int* a, const unsigned int* b, unsigned int* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = __vmaxu4(a[i], b[i]);
}
