#include <rocblas/rocblas.h>
int gemm(hipStream_t s, int m, int n, int k, const double* A, const double* B, double* C) {
  rocblas_handle h;
  if (rocblas_create_handle(&h) != rocblas_status_success) return 1;
  rocblas_set_stream(h, s);
  const double one = 1.0, zero = 0.0;
  rocblas_status st = rocblas_dgemm(h, rocblas_operation_none, rocblas_operation_transpose, m, n, k, &one, A, m, B, n, &zero, C, m);
  rocblas_dgemv(h, rocblas_operation_none, m, n, &one, A, m, B, 1, &zero, C, 1);
  rocblas_destroy_handle(h);
  return st == rocblas_status_success ? 0 : 2;
}
