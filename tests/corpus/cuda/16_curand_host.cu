// Host-side cuRAND generator filling device buffers.
#include <cstdio>
#include <cuda_runtime.h>
#include <curand.h>

#define CURAND_CHECK(x) do { curandStatus_t st = (x); if (st != CURAND_STATUS_SUCCESS) { \
  printf("curand error %d at %s:%d\n", (int)st, __FILE__, __LINE__); return 1; } } while (0)

int fill(float* d_uniform, float* d_normal, double* d_dnormal, size_t n, cudaStream_t stream) {
  curandGenerator_t gen;
  CURAND_CHECK(curandCreateGenerator(&gen, CURAND_RNG_PSEUDO_DEFAULT));
  CURAND_CHECK(curandSetStream(gen, stream));
  CURAND_CHECK(curandSetPseudoRandomGeneratorSeed(gen, 1234ULL));
  CURAND_CHECK(curandGenerateUniform(gen, d_uniform, n));
  CURAND_CHECK(curandGenerateNormal(gen, d_normal, n, 0.0f, 1.0f));
  CURAND_CHECK(curandGenerateNormalDouble(gen, d_dnormal, n, 0.0, 1.0));
  CURAND_CHECK(curandDestroyGenerator(gen));
  curandGenerator_t qgen;
  CURAND_CHECK(curandCreateGenerator(&qgen, CURAND_RNG_QUASI_SOBOL32));
  CURAND_CHECK(curandSetQuasiRandomGeneratorDimensions(qgen, 2));
  CURAND_CHECK(curandGenerateUniform(qgen, d_uniform, n));
  CURAND_CHECK(curandDestroyGenerator(qgen));
  return 0;
}
