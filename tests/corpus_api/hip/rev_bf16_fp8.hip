#include <hip/hip_runtime.h>
#include <hip/hip_bfloat16.h>
#include <hip/hip_fp8.h>
__global__ void cast(const float* x, __hip_bfloat16* b, __hip_fp8_e4m3* q, __hip_fp8_e5m2* r, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  __hip_bfloat16 v = __float2bfloat16(x[i]);
  b[i] = v;
  q[i] = __hip_fp8_e4m3(x[i]);
  r[i] = __hip_fp8_e5m2(x[i]);
}
__host__ float widen(hip_bfloat16 h) { return static_cast<float>(h); }
