// Level-1 BLAS on device vectors.
#include <rocblas/rocblas.h>
float norm_after_axpy(rocblas_handle h, int n, float a, const float* x, float* y) {
  rocblas_saxpy(h, n, &a, x, 1, y, 1);
  float dot = 0.0f, nrm = 0.0f;
  rocblas_sdot(h, n, x, 1, y, 1, &dot);
  rocblas_snrm2(h, n, y, 1, &nrm);
  int imax = 0;
  rocblas_isamax(h, n, y, 1, &imax);
  float s = 0.5f;
  rocblas_sscal(h, n, &s, y, 1);
  return dot + nrm + imax;
}
