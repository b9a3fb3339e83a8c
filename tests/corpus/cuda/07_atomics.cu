// Atomics of the kinds real kernels use: double adds, CAS loops for float max, integer min/max, exchange.
#include <cuda_runtime.h>

__device__ float atomic_max_float(float* addr, float value) {
  int* addr_as_int = reinterpret_cast<int*>(addr);
  int old = *addr_as_int, assumed;
  do {
    assumed = old;
    if (__int_as_float(assumed) >= value) break;
    old = atomicCAS(addr_as_int, assumed, __float_as_int(value));
  } while (assumed != old);
  return __int_as_float(old);
}

__device__ double atomic_mul_double(double* addr, double factor) {
  unsigned long long* p = reinterpret_cast<unsigned long long*>(addr);
  unsigned long long old = *p, assumed;
  do {
    assumed = old;
    old = atomicCAS(p, assumed, __double_as_longlong(__longlong_as_double(assumed) * factor));
  } while (assumed != old);
  return __longlong_as_double(old);
}

__global__ void stats(const double* x, int n, double* sum, float* max_abs, int* min_idx, unsigned* hist,
                      int* flag) {
  __shared__ unsigned local_hist[16];
  if (threadIdx.x < 16) local_hist[threadIdx.x] = 0;
  __syncthreads();
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) {
    atomicAdd(sum, x[i]);
    atomic_max_float(max_abs, (float)fabs(x[i]));
    if (x[i] < 0.0) atomicMin(min_idx, i);
    atomicAdd(&local_hist[(unsigned)fabs(x[i]) & 15u], 1u);
    atomicExch(flag, 1);
  }
  __syncthreads();
  if (threadIdx.x < 16) atomicAdd(&hist[threadIdx.x], local_hist[threadIdx.x]);
  if (i == 0) {
    atomicMax(min_idx + 1, n);
    atomicInc(hist + 16, 1000u);
    atomicOr(flag + 1, 2);
    atomic_mul_double(sum + 1, 0.5);
  }
}
