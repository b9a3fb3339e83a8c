#include <cusparse.h>
void generic(int n, int nnz, int* r, int* c, float* v, float* x, float* y) {
  cusparseSpMatDescr_t A;
  cusparseCreateCoo(&A, n, n, nnz, r, c, v, CUSPARSE_INDEX_32I, CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F);
  cusparseDnVecDescr_t vx, vy;
  cusparseCreateDnVec(&vx, n, x, CUDA_R_32F);
  cusparseCreateDnVec(&vy, n, y, CUDA_R_32F);
  cusparseDestroyDnVec(vx);
  cusparseDestroyDnVec(vy);
  cusparseDestroySpMat(A);
}
