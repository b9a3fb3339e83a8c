#include <hipsparse/hipsparse.h>
void generic(int n, int nnz, int* r, int* c, float* v, float* x, float* y) {
  hipsparseSpMatDescr_t A;
  hipsparseCreateCoo(&A, n, n, nnz, r, c, v, HIPSPARSE_INDEX_32I, HIPSPARSE_INDEX_BASE_ZERO, HIP_R_32F);
  hipsparseDnVecDescr_t vx, vy;
  hipsparseCreateDnVec(&vx, n, x, HIP_R_32F);
  hipsparseCreateDnVec(&vy, n, y, HIP_R_32F);
  hipsparseDestroyDnVec(vx);
  hipsparseDestroyDnVec(vy);
  hipsparseDestroySpMat(A);
}
