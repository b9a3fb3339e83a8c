// y = A x with a CSR matrix through the generic sparse API.
#include <hipsparse/hipsparse.h>
size_t spmv(hipsparseHandle_t h, int rows, int cols, int nnz, int* rowPtr, int* colInd, float* vals, float* x, float* y) {
  hipsparseSpMatDescr_t A;
  hipsparseDnVecDescr_t vx, vy;
  hipsparseCreateCsr(&A, rows, cols, nnz, rowPtr, colInd, vals, HIPSPARSE_INDEX_32I, HIPSPARSE_INDEX_32I,
                    HIPSPARSE_INDEX_BASE_ZERO, HIP_R_32F);
  hipsparseCreateDnVec(&vx, cols, x, HIP_R_32F);
  hipsparseCreateDnVec(&vy, rows, y, HIP_R_32F);
  float one = 1.0f, zero = 0.0f;
  size_t bytes = 0;
  hipsparseSpMV_bufferSize(h, HIPSPARSE_OPERATION_NON_TRANSPOSE, &one, A, vx, &zero, vy, HIP_R_32F,
                          HIPSPARSE_SPMV_ALG_DEFAULT, &bytes);
  hipsparseDestroyDnVec(vx);
  hipsparseDestroyDnVec(vy);
  hipsparseDestroySpMat(A);
  return bytes;
}
