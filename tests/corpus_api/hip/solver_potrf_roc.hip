#include <rocsolver/rocsolver.h>
void chol(hipStream_t s, int n, double* A, double* work, int lwork, int* info) {
  rocblas_handle h;
  rocblas_create_handle(&h);
  rocblas_set_stream(h, s);
  rocsolver_dpotrf(h, rocblas_fill_upper, n, A, n, work, lwork, info);
  rocblas_destroy_handle(h);
}
