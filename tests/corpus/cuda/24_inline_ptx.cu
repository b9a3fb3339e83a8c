// Lane id, global timer and a predicated load written with inline PTX.
#include <cuda_runtime.h>

__device__ __forceinline__ unsigned lane_id() {
  unsigned lane;
  asm volatile("mov.u32 %0, %%laneid;" : "=r"(lane)); // expect: inline-asm
  return lane;
}

__device__ __forceinline__ unsigned long long global_timer() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)); // expect: inline-asm
  return t;
}

__device__ __forceinline__ float load_streaming(const float* p) {
  float v;
  asm("ld.global.cs.f32 %0, [%1];" : "=f"(v) : "l"(p)); // expect: inline-asm
  return v;
}

__global__ void probe(const float* x, float* y, unsigned long long* t, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  unsigned long long t0 = global_timer();
  if (i < n) y[i] = load_streaming(x + i) + (float)lane_id();
  if (threadIdx.x == 0) t[blockIdx.x] = global_timer() - t0 + clock64();
}
