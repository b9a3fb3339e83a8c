#include <rocrand/rocrand_kernel.h>
__global__ void draw(unsigned long long seed, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  rocrand_state_philox4x32_10 st;
  rocrand_init(seed, i, 0, &st);
  if (i < n) out[i] = rocrand_uniform(&st) + rocrand_normal(&st);
}
