#include <hiprand/hiprand_kernel.h>
__global__ void draw(unsigned long long seed, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  hiprandStatePhilox4_32_10_t st;
  hiprand_init(seed, i, 0, &st);
  if (i < n) out[i] = hiprand_uniform(&st) + hiprand_normal(&st);
  float4 q = hiprand_uniform4(&st);
  if (i < n) out[i] += q.x + (float)hiprand_poisson(&st, 4.0);
}
