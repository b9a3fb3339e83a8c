#include <cusolverDn.h>
int lu(cusolverDnHandle_t h, int n, float* A, int* ipiv, float* b, int* info) {
  int lwork = 0;
  cusolverDnSgetrf_bufferSize(h, n, n, A, n, &lwork);
  float* work = nullptr;
  cudaMalloc(&work, lwork * sizeof(float));
  cusolverDnSgetrf(h, n, n, A, n, work, ipiv, info);
  cusolverStatus_t st = cusolverDnSgetrs(h, CUBLAS_OP_N, n, 1, A, n, ipiv, b, n, info);
  cudaFree(work);
  return st == CUSOLVER_STATUS_SUCCESS ? 0 : 1;
}
