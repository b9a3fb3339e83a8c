#include <rocblas/rocblas.h>
float dot(rocblas_handle h, int n, const float* x, const float* y) {
  float r = 0.0f;
  rocblas_set_pointer_mode(h, rocblas_pointer_mode_host);
  rocblas_sdot(h, n, x, 1, y, 1, &r);
  return r;
}
