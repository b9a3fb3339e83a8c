// Softmax rows and a GELU activation using the fast-math intrinsics.
#include <hip/hip_runtime.h>
#include <math.h>

__device__ __forceinline__ float gelu_fast(float x) {
  const float k0 = 0.7978845608f, k1 = 0.044715f;
  float t = tanhf(k0 * (x + k1 * x * x * x));
  return 0.5f * x * (1.0f + t);
}

__global__ void softmax_rows(const float* in, float* out, int cols) {
  const float* row = in + blockIdx.x * cols;
  float* dst = out + blockIdx.x * cols;
  float mx = -INFINITY;
  for (int c = 0; c < cols; ++c) mx = fmaxf(mx, row[c]);
  float sum = 0.0f;
  for (int c = 0; c < cols; ++c) sum += __expf(row[c] - mx);
  for (int c = threadIdx.x; c < cols; c += blockDim.x) dst[c] = __fdividef(__expf(row[c] - mx), sum);
}

__global__ void activations(const float* x, float* y, float* z, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float v = x[i];
  y[i] = gelu_fast(v) * rsqrtf(v * v + 1e-5f);
  z[i] = __saturatef(__sinf(v) * __cosf(v)) + __logf(fabsf(v) + 1.0f) + __powf(2.0f, v) + sqrtf(fmaf(v, v, 1.0f));
  y[i] += __frsqrt_rn(v * v + 1.0f) + exp2f(v) + __fmul_rn(v, 0.5f) + __float2int_rn(v);
}
