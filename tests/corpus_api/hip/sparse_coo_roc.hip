#include <rocsparse/rocsparse.h>
void generic(int n, int nnz, int* r, int* c, float* v, float* x, float* y) {
  rocsparse_spmat_descr A;
  rocsparse_create_coo_descr(&A, n, n, nnz, r, c, v, rocsparse_indextype_i32, rocsparse_index_base_zero, rocblas_datatype_f32_r);
  rocsparse_dnvec_descr vx, vy;
  rocsparse_create_dnvec_descr(&vx, n, x, rocblas_datatype_f32_r);
  rocsparse_create_dnvec_descr(&vy, n, y, rocblas_datatype_f32_r);
  rocsparse_destroy_dnvec_descr(vx);
  rocsparse_destroy_dnvec_descr(vy);
  rocsparse_destroy_spmat_descr(A);
}
