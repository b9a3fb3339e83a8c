#include <cublas_v2.h>
int gemm(cudaStream_t s, int m, int n, int k, const double* A, const double* B, double* C) {
  cublasHandle_t h;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return 1;
  cublasSetStream(h, s);
  const double one = 1.0, zero = 0.0;
  cublasStatus_t st = cublasDgemm(h, CUBLAS_OP_N, CUBLAS_OP_T, m, n, k, &one, A, m, B, n, &zero, C, m);
  cublasDgemv(h, CUBLAS_OP_N, m, n, &one, A, m, B, 1, &zero, C, 1);
  cublasDestroy(h);
  return st == CUBLAS_STATUS_SUCCESS ? 0 : 2;
}
