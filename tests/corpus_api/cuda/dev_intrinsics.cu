#include <cuda_runtime.h>
__global__ void bits(const unsigned int* a, unsigned int* out, float* f, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  unsigned int v = a[i];
  out[i] = __popc(v) + __clz(v) + __ffs(v) + __brev(v) + __byte_perm(v, 0, 0x0123);
  f[i] = __fdividef(f[i], 3.0f) + __saturatef(f[i]) + __expf(f[i]) + rsqrtf(f[i]);
  __syncthreads();
  __threadfence();
}
