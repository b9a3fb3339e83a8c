// Monte-Carlo estimate of pi with per-thread cuRAND states.
#include <cuda_runtime.h>
#include <curand_kernel.h>

__global__ void setup_states(curandState* states, unsigned long long seed) {
  int id = blockIdx.x * blockDim.x + threadIdx.x;
  curand_init(seed, id, 0, &states[id]);
}

__global__ void estimate_pi(curandState* states, int samples, unsigned long long* hits) {
  int id = blockIdx.x * blockDim.x + threadIdx.x;
  curandState local = states[id];
  unsigned long long count = 0;
  for (int s = 0; s < samples; ++s) {
    float x = curand_uniform(&local);
    float y = curand_uniform(&local);
    if (x * x + y * y <= 1.0f) ++count;
  }
  float noise = curand_normal(&local);
  double u = curand_uniform_double(&local);
  unsigned int bits = curand(&local);
  states[id] = local;
  atomicAdd(hits, count + (noise > 100.0f) + (u > 2.0) + (bits == 0u));
}

__global__ void philox_fill(float4* out, unsigned long long seed, int n) {
  int id = blockIdx.x * blockDim.x + threadIdx.x;
  curandStatePhilox4_32_10_t st;
  curand_init(seed, id, 0, &st);
  if (id < n) out[id] = curand_normal4(&st);
}

void run(int blocks, int threads, int samples, unsigned long long* hits) {
  curandState* states;
  cudaMalloc(&states, blocks * threads * sizeof(curandState));
  setup_states<<<blocks, threads>>>(states, 1234ULL);
  estimate_pi<<<blocks, threads>>>(states, samples, hits);
  cudaFree(states);
}
