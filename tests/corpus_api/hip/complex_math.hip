#include <hip/hip_complex.h>
__device__ hipFloatComplex rotate(hipFloatComplex z, float angle) {
  hipFloatComplex w = make_hipFloatComplex(cosf(angle), sinf(angle));
  return hipCmulf(z, w);
}
__global__ void mag(const hipFloatComplex* z, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = hipCabsf(hipCaddf(z[i], hipConjf(z[i]))) + hipCrealf(z[i]) - hipCimagf(z[i]);
}
__host__ __device__ hipDoubleComplex ratio(hipDoubleComplex a, hipDoubleComplex b) {
  return hipCdiv(hipCadd(a, make_hipDoubleComplex(1.0, 0.0)), b);
}
