#include <cusolverDn.h>
void chol(cudaStream_t s, int n, double* A, double* work, int lwork, int* info) {
  cusolverDnHandle_t h;
  cusolverDnCreate(&h);
  cusolverDnSetStream(h, s);
  cusolverDnDpotrf(h, CUBLAS_FILL_MODE_UPPER, n, A, n, work, lwork, info);
  cusolverDnDestroy(h);
}
