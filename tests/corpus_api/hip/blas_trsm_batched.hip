#include <hipblas/hipblas.h>
void solve(hipblasHandle_t h, int m, int n, const float* A, float* B, float* C) {
  const float one = 1.0f, zero = 0.0f;
  hipblasSetPointerMode(h, HIPBLAS_POINTER_MODE_HOST);
  hipblasStrsm(h, HIPBLAS_SIDE_LEFT, HIPBLAS_FILL_MODE_LOWER, HIPBLAS_OP_N, HIPBLAS_DIAG_NON_UNIT, m, n, &one, A, m, B, m);
  hipblasSsyrk(h, HIPBLAS_FILL_MODE_UPPER, HIPBLAS_OP_T, n, m, &one, B, m, &zero, C, n);
  hipblasSgemmStridedBatched(h, HIPBLAS_OP_N, HIPBLAS_OP_N, m, m, m, &one, A, m, m * m, A, m, m * m, &zero, C, m, m * m, 4);
}
