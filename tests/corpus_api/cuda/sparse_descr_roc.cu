#include <cusparse.h>
int setup(cudaStream_t s) {
  cusparseHandle_t h;
  if (cusparseCreate(&h) != CUSPARSE_STATUS_SUCCESS) return 1;
  cusparseSetStream(h, s);
  cusparseMatDescr_t d;
  cusparseCreateMatDescr(&d);
  cusparseSetMatType(d, CUSPARSE_MATRIX_TYPE_GENERAL);
  cusparseSetMatIndexBase(d, CUSPARSE_INDEX_BASE_ZERO);
  cusparseDestroyMatDescr(d);
  cusparseStatus_t st = cusparseDestroy(h);
  return st == CUSPARSE_STATUS_SUCCESS ? 0 : 2;
}
