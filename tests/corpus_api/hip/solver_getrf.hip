#include <hipsolver/hipsolver.h>
int lu(hipsolverDnHandle_t h, int n, float* A, int* ipiv, float* b, int* info) {
  int lwork = 0;
  hipsolverDnSgetrf_bufferSize(h, n, n, A, n, &lwork);
  float* work = nullptr;
  hipMalloc(&work, lwork * sizeof(float));
  hipsolverDnSgetrf(h, n, n, A, n, work, ipiv, info);
  hipsolverStatus_t st = hipsolverDnSgetrs(h, HIPBLAS_OP_N, n, 1, A, n, ipiv, b, n, info);
  hipFree(work);
  return st == HIPSOLVER_STATUS_SUCCESS ? 0 : 1;
}
