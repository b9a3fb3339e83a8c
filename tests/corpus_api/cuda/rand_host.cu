#include <curand.h>
int fill(float* d, double* dd, size_t n, cudaStream_t s) {
  curandGenerator_t g;
  if (curandCreateGenerator(&g, CURAND_RNG_PSEUDO_PHILOX4_32_10) != CURAND_STATUS_SUCCESS) return 1;
  curandSetPseudoRandomGeneratorSeed(g, 1234ull);
  curandSetStream(g, s);
  curandGenerateUniform(g, d, n);
  curandGenerateNormal(g, d, n, 0.0f, 1.0f);
  curandGenerateLogNormal(g, d, n, 0.0f, 0.5f);
  curandGenerateUniformDouble(g, dd, n);
  curandStatus_t st = curandDestroyGenerator(g);
  return st == CURAND_STATUS_SUCCESS ? 0 : 2;
}
