#include <curand_kernel.h>
__global__ void draw(unsigned long long seed, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  curandStatePhilox4_32_10_t st;
  curand_init(seed, i, 0, &st);
  if (i < n) out[i] = curand_uniform(&st) + curand_normal(&st);
}
