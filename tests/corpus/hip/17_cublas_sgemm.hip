// Single-precision GEMM through cuBLAS with status checking and a user stream.
#include <cstdio>
#include <hip/hip_runtime.h>
#include <hipblas/hipblas.h>

#define CUBLAS_CHECK(call)                                                  \
  do {                                                                      \
    hipblasStatus_t status_ = (call);                                        \
    if (status_ != HIPBLAS_STATUS_SUCCESS) {                                 \
      fprintf(stderr, "cuBLAS error %d at line %d\n", (int)status_, __LINE__); \
      return -1;                                                            \
    }                                                                       \
  } while (0)

int gemm(const float* dA, const float* dB, float* dC, int m, int n, int k, hipStream_t stream) {
  hipblasHandle_t handle;
  CUBLAS_CHECK(hipblasCreate(&handle));
  CUBLAS_CHECK(hipblasSetStream(handle, stream));
  CUBLAS_CHECK(hipblasSetPointerMode(handle, HIPBLAS_POINTER_MODE_HOST));
  const float alpha = 1.0f, beta = 0.0f;
  // column-major: C(m x n) = A(m x k) * B(k x n)
  CUBLAS_CHECK(hipblasSgemm(handle, HIPBLAS_OP_N, HIPBLAS_OP_N, m, n, k, &alpha, dA, m, dB, k, &beta, dC, m));
  CUBLAS_CHECK(hipblasSgemm(handle, HIPBLAS_OP_T, HIPBLAS_OP_N, k, n, m, &alpha, dA, m, dC, m, &beta,
                           const_cast<float*>(dB), k));
  float result = 0.0f;
  CUBLAS_CHECK(hipblasSdot(handle, m, dA, 1, dA, 1, &result));
  CUBLAS_CHECK(hipblasSscal(handle, m * n, &alpha, dC, 1));
  int version = 0;
  hipblasGetVersion(handle, &version);
  CUBLAS_CHECK(hipblasDestroy(handle));
  return version;
}
