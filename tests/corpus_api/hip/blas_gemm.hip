#include <hipblas/hipblas.h>
int gemm(hipStream_t s, int m, int n, int k, const double* A, const double* B, double* C) {
  hipblasHandle_t h;
  if (hipblasCreate(&h) != HIPBLAS_STATUS_SUCCESS) return 1;
  hipblasSetStream(h, s);
  const double one = 1.0, zero = 0.0;
  hipblasStatus_t st = hipblasDgemm(h, HIPBLAS_OP_N, HIPBLAS_OP_T, m, n, k, &one, A, m, B, n, &zero, C, m);
  hipblasDgemv(h, HIPBLAS_OP_N, m, n, &one, A, m, B, 1, &zero, C, 1);
  hipblasDestroy(h);
  return st == HIPBLAS_STATUS_SUCCESS ? 0 : 2;
}
