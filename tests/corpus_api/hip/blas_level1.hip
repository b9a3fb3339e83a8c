// Level-1 BLAS on device vectors.
#include <hipblas/hipblas.h>
float norm_after_axpy(hipblasHandle_t h, int n, float a, const float* x, float* y) {
  hipblasSaxpy(h, n, &a, x, 1, y, 1);
  float dot = 0.0f, nrm = 0.0f;
  hipblasSdot(h, n, x, 1, y, 1, &dot);
  hipblasSnrm2(h, n, y, 1, &nrm);
  int imax = 0;
  hipblasIsamax(h, n, y, 1, &imax);
  float s = 0.5f;
  hipblasSscal(h, n, &s, y, 1);
  return dot + nrm + imax;
}
