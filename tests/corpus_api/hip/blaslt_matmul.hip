#include <hipblaslt/hipblaslt.h>
void lt(hipblasLtHandle_t* h) {
  hipblasLtCreate(h);
  hipblasLtMatmulDesc_t op;
  hipblasLtMatmulDescCreate(&op, HIPBLAS_COMPUTE_32F, HIP_R_32F);
  hipblasLtMatrixLayout_t a, c;
  hipblasLtMatrixLayoutCreate(&a, HIP_R_16F, 64, 64, 64);
  hipblasLtMatrixLayoutCreate(&c, HIP_R_32F, 64, 64, 64);
  hipblasLtMatrixLayoutDestroy(a);
  hipblasLtMatrixLayoutDestroy(c);
  hipblasLtMatmulDescDestroy(op);
  hipblasLtDestroy(*h);
}
