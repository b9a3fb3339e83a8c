// Code paths selected by the compiler pass and by the target architecture.
#include <cuda_runtime.h>
#include <cuda_fp16.h>

__host__ __device__ inline int pass_id() {
#ifdef __CUDA_ARCH__
  return 1;
#else
  return 0;
#endif
}

__device__ inline float load_hint(const float* p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 350 // expect: arch-check
  return __ldg(p);
#else
  return *p;
#endif
}

__global__ void add_half(const __half* a, const __half* b, __half* c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
#if __CUDA_ARCH__ >= 530 // expect: arch-check
  c[i] = __hadd(a[i], b[i]);
#else
  c[i] = __float2half(__half2float(a[i]) + __half2float(b[i]));
#endif
}

__global__ void mark(const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = load_hint(x + i) + pass_id();
}

#ifdef __CUDACC__
#define HOST_DEVICE __host__ __device__
#else
#define HOST_DEVICE
#endif

HOST_DEVICE inline float lerp(float a, float b, float t) { return a + t * (b - a); }
