#include <hipsparse/hipsparse.h>
int setup(hipStream_t s) {
  hipsparseHandle_t h;
  if (hipsparseCreate(&h) != HIPSPARSE_STATUS_SUCCESS) return 1;
  hipsparseSetStream(h, s);
  hipsparseMatDescr_t d;
  hipsparseCreateMatDescr(&d);
  hipsparseSetMatType(d, HIPSPARSE_MATRIX_TYPE_GENERAL);
  hipsparseSetMatIndexBase(d, HIPSPARSE_INDEX_BASE_ZERO);
  hipsparseDestroyMatDescr(d);
  hipsparseStatus_t st = hipsparseDestroy(h);
  return st == HIPSPARSE_STATUS_SUCCESS ? 0 : 2;
}
