#include <hiprand/hiprand.h>
int fill(float* d, double* dd, size_t n, hipStream_t s) {
  hiprandGenerator_t g;
  if (hiprandCreateGenerator(&g, HIPRAND_RNG_PSEUDO_PHILOX4_32_10) != HIPRAND_STATUS_SUCCESS) return 1;
  hiprandSetPseudoRandomGeneratorSeed(g, 1234ull);
  hiprandSetStream(g, s);
  hiprandGenerateUniform(g, d, n);
  hiprandGenerateNormal(g, d, n, 0.0f, 1.0f);
  hiprandGenerateLogNormal(g, d, n, 0.0f, 0.5f);
  hiprandGenerateUniformDouble(g, dd, n);
  hiprandStatus_t st = hiprandDestroyGenerator(g);
  return st == HIPRAND_STATUS_SUCCESS ? 0 : 2;
}
