// Half-precision AXPY and dot product with packed __half2 arithmetic.
#include <hip/hip_fp16.h>
#include <hip/hip_runtime.h>

__global__ void haxpy(int n, __half a, const __half* x, __half* y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int n2 = n / 2;
  const __half2* x2 = reinterpret_cast<const __half2*>(x);
  __half2* y2 = reinterpret_cast<__half2*>(y);
  __half2 a2 = __halves2half2(a, a);
  for (int k = i; k < n2; k += blockDim.x * gridDim.x) y2[k] = __hfma2(a2, x2[k], y2[k]);
  if (i == 0 && (n & 1)) y[n - 1] = __hadd(__hmul(a, x[n - 1]), y[n - 1]);
}

__global__ void hdot_partial(const __half2* x, const __half2* y, float* partial, int n2) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  __half2 acc = __float2half2_rn(0.0f);
  for (; i < n2; i += blockDim.x * gridDim.x) acc = __hadd2(acc, __hmul2(x[i], y[i]));
  float2 f = __half22float2(acc);
  atomicAdd(partial, f.x + f.y);
}

__global__ void to_half(const float* in, __half* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = __float2half(in[i]);
}

__global__ void from_half(const __half* in, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = __half2float(in[i]) + __low2float(__floats2half2_rn(1.0f, 2.0f));
}
