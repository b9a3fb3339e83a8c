#include <rocblas/rocblas.h>
void solve(rocblas_handle h, int m, int n, const float* A, float* B, float* C) {
  const float one = 1.0f, zero = 0.0f;
  rocblas_set_pointer_mode(h, rocblas_pointer_mode_host);
  rocblas_strsm(h, rocblas_side_left, rocblas_fill_lower, rocblas_operation_none, rocblas_diagonal_non_unit, m, n, &one, A, m, B, m);
  rocblas_ssyrk(h, rocblas_fill_upper, rocblas_operation_transpose, n, m, &one, B, m, &zero, C, n);
  rocblas_sgemm_strided_batched(h, rocblas_operation_none, rocblas_operation_none, m, m, m, &one, A, m, m * m, A, m, m * m, &zero, C, m, m * m, 4);
}
