#include <rocsparse/rocsparse.h>
int setup(hipStream_t s) {
  rocsparse_handle h;
  if (rocsparse_create_handle(&h) != rocsparse_status_success) return 1;
  rocsparse_set_stream(h, s);
  rocsparse_mat_descr d;
  rocsparse_create_mat_descr(&d);
  rocsparse_set_mat_type(d, rocsparse_matrix_type_general);
  rocsparse_set_mat_index_base(d, rocsparse_index_base_zero);
  rocsparse_destroy_mat_descr(d);
  rocsparse_status st = rocsparse_destroy_handle(h);
  return st == rocsparse_status_success ? 0 : 2;
}
