// Strided-batched double GEMM, vector helpers and level-1 routines with a device-side result.
#include <cuda_runtime.h>
#include <cublas_v2.h>

cublasStatus_t batched(cublasHandle_t h, const double* A, const double* B, double* C, int n, int batch) {
  const double one = 1.0, zero = 0.0;
  long long stride = (long long)n * n;
  return cublasDgemmStridedBatched(h, CUBLAS_OP_N, CUBLAS_OP_T, n, n, n, &one, A, n, stride, B, n, stride,
                                   &zero, C, n, stride, batch);
}

int norms(cublasHandle_t h, const float* hx, float* dx, float* dnorm, int n) {
  cublasStatus_t st = cublasSetVector(n, sizeof(float), hx, 1, dx, 1);
  if (st != CUBLAS_STATUS_SUCCESS) return 1;
  cublasSetPointerMode(h, CUBLAS_POINTER_MODE_DEVICE);
  st = cublasSnrm2(h, n, dx, 1, dnorm);
  cublasSetPointerMode(h, CUBLAS_POINTER_MODE_HOST);
  int imax = 0;
  cublasIsamax(h, n, dx, 1, &imax);
  const float a = 2.0f;
  cublasSaxpy(h, n, &a, dx, 1, dx, 1);
  float host_norm = 0.0f;
  cublasGetVector(1, sizeof(float), dnorm, 1, &host_norm, 1);
  if (st == CUBLAS_STATUS_NOT_INITIALIZED || st == CUBLAS_STATUS_INVALID_VALUE) return 2;
  cublasMath_t mode;
  cublasGetMathMode(h, &mode);
  cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
  cublasFillMode_t uplo = CUBLAS_FILL_MODE_UPPER;
  cublasDiagType_t diag = CUBLAS_DIAG_NON_UNIT;
  cublasSideMode_t side = CUBLAS_SIDE_LEFT;
  return uplo == CUBLAS_FILL_MODE_LOWER || diag == CUBLAS_DIAG_UNIT || side == CUBLAS_SIDE_RIGHT;
}
