// Level-1 BLAS on device vectors.
#include <cublas_v2.h>
float norm_after_axpy(cublasHandle_t h, int n, float a, const float* x, float* y) {
  cublasSaxpy(h, n, &a, x, 1, y, 1);
  float dot = 0.0f, nrm = 0.0f;
  cublasSdot(h, n, x, 1, y, 1, &dot);
  cublasSnrm2(h, n, y, 1, &nrm);
  int imax = 0;
  cublasIsamax(h, n, y, 1, &imax);
  float s = 0.5f;
  cublasSscal(h, n, &s, y, 1);
  return dot + nrm + imax;
}
