#include <cublasLt.h>
void lt(cublasLtHandle_t* h) {
  cublasLtCreate(h);
  cublasLtMatmulDesc_t op;
  cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F);
  cublasLtMatrixLayout_t a, c;
  cublasLtMatrixLayoutCreate(&a, CUDA_R_16F, 64, 64, 64);
  cublasLtMatrixLayoutCreate(&c, CUDA_R_32F, 64, 64, 64);
  cublasLtMatrixLayoutDestroy(a);
  cublasLtMatrixLayoutDestroy(c);
  cublasLtMatmulDescDestroy(op);
  cublasLtDestroy(*h);
}
