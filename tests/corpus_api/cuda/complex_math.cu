#include <cuComplex.h>
__device__ cuFloatComplex rotate(cuFloatComplex z, float angle) {
  cuFloatComplex w = make_cuFloatComplex(cosf(angle), sinf(angle));
  return cuCmulf(z, w);
}
__global__ void mag(const cuFloatComplex* z, float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = cuCabsf(cuCaddf(z[i], cuConjf(z[i]))) + cuCrealf(z[i]) - cuCimagf(z[i]);
}
__host__ __device__ cuDoubleComplex ratio(cuDoubleComplex a, cuDoubleComplex b) {
  return cuCdiv(cuCadd(a, make_cuDoubleComplex(1.0, 0.0)), b);
}
