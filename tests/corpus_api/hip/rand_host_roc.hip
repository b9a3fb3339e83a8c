#include <rocrand/rocrand.h>
int fill(float* d, double* dd, size_t n, hipStream_t s) {
  rocrand_generator g;
  if (rocrand_create_generator(&g, ROCRAND_RNG_PSEUDO_PHILOX4_32_10) != ROCRAND_STATUS_SUCCESS) return 1;
  rocrand_set_seed(g, 1234ull);
  rocrand_set_stream(g, s);
  rocrand_generate_uniform(g, d, n);
  rocrand_generate_normal(g, d, n, 0.0f, 1.0f);
  rocrand_generate_log_normal(g, d, n, 0.0f, 0.5f);
  rocrand_generate_uniform_double(g, dd, n);
  rocrand_status st = rocrand_destroy_generator(g);
  return st == ROCRAND_STATUS_SUCCESS ? 0 : 2;
}
