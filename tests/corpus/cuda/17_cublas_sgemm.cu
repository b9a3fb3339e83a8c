// Single-precision GEMM through cuBLAS with status checking and a user stream.
#include <cstdio>
#include <cuda_runtime.h>
#include <cublas_v2.h>

#define CUBLAS_CHECK(call)                                                  \
  do {                                                                      \
    cublasStatus_t status_ = (call);                                        \
    if (status_ != CUBLAS_STATUS_SUCCESS) {                                 \
      fprintf(stderr, "cuBLAS error %d at line %d\n", (int)status_, __LINE__); \
      return -1;                                                            \
    }                                                                       \
  } while (0)

int gemm(const float* dA, const float* dB, float* dC, int m, int n, int k, cudaStream_t stream) {
  cublasHandle_t handle;
  CUBLAS_CHECK(cublasCreate(&handle));
  CUBLAS_CHECK(cublasSetStream(handle, stream));
  CUBLAS_CHECK(cublasSetPointerMode(handle, CUBLAS_POINTER_MODE_HOST));
  const float alpha = 1.0f, beta = 0.0f;
  // column-major: C(m x n) = A(m x k) * B(k x n)
  CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, m, n, k, &alpha, dA, m, dB, k, &beta, dC, m));
  CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_T, CUBLAS_OP_N, k, n, m, &alpha, dA, m, dC, m, &beta,
                           const_cast<float*>(dB), k));
  float result = 0.0f;
  CUBLAS_CHECK(cublasSdot(handle, m, dA, 1, dA, 1, &result));
  CUBLAS_CHECK(cublasSscal(handle, m * n, &alpha, dC, 1));
  int version = 0;
  cublasGetVersion(handle, &version);
  CUBLAS_CHECK(cublasDestroy(handle));
  return version;
}
