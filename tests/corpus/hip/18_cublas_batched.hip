// Strided-batched double GEMM, vector helpers and level-1 routines with a device-side result.
#include <hip/hip_runtime.h>
#include <hipblas/hipblas.h>

hipblasStatus_t batched(hipblasHandle_t h, const double* A, const double* B, double* C, int n, int batch) {
  const double one = 1.0, zero = 0.0;
  long long stride = (long long)n * n;
  return hipblasDgemmStridedBatched(h, HIPBLAS_OP_N, HIPBLAS_OP_T, n, n, n, &one, A, n, stride, B, n, stride,
                                   &zero, C, n, stride, batch);
}

int norms(hipblasHandle_t h, const float* hx, float* dx, float* dnorm, int n) {
  hipblasStatus_t st = hipblasSetVector(n, sizeof(float), hx, 1, dx, 1);
  if (st != HIPBLAS_STATUS_SUCCESS) return 1;
  hipblasSetPointerMode(h, HIPBLAS_POINTER_MODE_DEVICE);
  st = hipblasSnrm2(h, n, dx, 1, dnorm);
  hipblasSetPointerMode(h, HIPBLAS_POINTER_MODE_HOST);
  int imax = 0;
  hipblasIsamax(h, n, dx, 1, &imax);
  const float a = 2.0f;
  hipblasSaxpy(h, n, &a, dx, 1, dx, 1);
  float host_norm = 0.0f;
  hipblasGetVector(1, sizeof(float), dnorm, 1, &host_norm, 1);
  if (st == HIPBLAS_STATUS_NOT_INITIALIZED || st == HIPBLAS_STATUS_INVALID_VALUE) return 2;
  hipblasMath_t mode;
  hipblasGetMathMode(h, &mode);
  hipblasSetMathMode(h, HIPBLAS_DEFAULT_MATH);
  hipblasFillMode_t uplo = HIPBLAS_FILL_MODE_UPPER;
  hipblasDiagType_t diag = HIPBLAS_DIAG_NON_UNIT;
  hipblasSideMode_t side = HIPBLAS_SIDE_LEFT;
  return uplo == HIPBLAS_FILL_MODE_LOWER || diag == HIPBLAS_DIAG_UNIT || side == HIPBLAS_SIDE_RIGHT;
}
