// Monte-Carlo estimate of pi with per-thread cuRAND states.
#include <hip/hip_runtime.h>
#include <hiprand/hiprand_kernel.h>

__global__ void setup_states(hiprandState* states, unsigned long long seed) {
  int id = blockIdx.x * blockDim.x + threadIdx.x;
  hiprand_init(seed, id, 0, &states[id]);
}

__global__ void estimate_pi(hiprandState* states, int samples, unsigned long long* hits) {
  int id = blockIdx.x * blockDim.x + threadIdx.x;
  hiprandState local = states[id];
  unsigned long long count = 0;
  for (int s = 0; s < samples; ++s) {
    float x = hiprand_uniform(&local);
    float y = hiprand_uniform(&local);
    if (x * x + y * y <= 1.0f) ++count;
  }
  float noise = hiprand_normal(&local);
  double u = hiprand_uniform_double(&local);
  unsigned int bits = hiprand(&local);
  states[id] = local;
  atomicAdd(hits, count + (noise > 100.0f) + (u > 2.0) + (bits == 0u));
}

__global__ void philox_fill(float4* out, unsigned long long seed, int n) {
  int id = blockIdx.x * blockDim.x + threadIdx.x;
  hiprandStatePhilox4_32_10_t st;
  hiprand_init(seed, id, 0, &st);
  if (id < n) out[id] = hiprand_normal4(&st);
}

void run(int blocks, int threads, int samples, unsigned long long* hits) {
  hiprandState* states;
  hipMalloc(&states, blocks * threads * sizeof(hiprandState));
  setup_states<<<blocks, threads>>>(states, 1234ULL);
  estimate_pi<<<blocks, threads>>>(states, samples, hits);
  hipFree(states);
}
