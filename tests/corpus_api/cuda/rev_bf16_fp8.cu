#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cuda_fp8.h>
__global__ void cast(const float* x, __nv_bfloat16* b, __nv_fp8_e4m3* q, __nv_fp8_e5m2* r, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  __nv_bfloat16 v = __float2bfloat16(x[i]);
  b[i] = v;
  q[i] = __nv_fp8_e4m3(x[i]);
  r[i] = __nv_fp8_e5m2(x[i]);
}
__host__ float widen(__nv_bfloat16 h) { return static_cast<float>(h); }
