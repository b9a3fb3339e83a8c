// Host-side cuRAND generator filling device buffers.
#include <cstdio>
#include <hip/hip_runtime.h>
#include <hiprand/hiprand.h>

#define CURAND_CHECK(x) do { hiprandStatus_t st = (x); if (st != HIPRAND_STATUS_SUCCESS) { \
  printf("curand error %d at %s:%d\n", (int)st, __FILE__, __LINE__); return 1; } } while (0)

int fill(float* d_uniform, float* d_normal, double* d_dnormal, size_t n, hipStream_t stream) {
  hiprandGenerator_t gen;
  CURAND_CHECK(hiprandCreateGenerator(&gen, HIPRAND_RNG_PSEUDO_DEFAULT));
  CURAND_CHECK(hiprandSetStream(gen, stream));
  CURAND_CHECK(hiprandSetPseudoRandomGeneratorSeed(gen, 1234ULL));
  CURAND_CHECK(hiprandGenerateUniform(gen, d_uniform, n));
  CURAND_CHECK(hiprandGenerateNormal(gen, d_normal, n, 0.0f, 1.0f));
  CURAND_CHECK(hiprandGenerateNormalDouble(gen, d_dnormal, n, 0.0, 1.0));
  CURAND_CHECK(hiprandDestroyGenerator(gen));
  hiprandGenerator_t qgen;
  CURAND_CHECK(hiprandCreateGenerator(&qgen, HIPRAND_RNG_QUASI_SOBOL32));
  CURAND_CHECK(hiprandSetQuasiRandomGeneratorDimensions(qgen, 2));
  CURAND_CHECK(hiprandGenerateUniform(qgen, d_uniform, n));
  CURAND_CHECK(hiprandDestroyGenerator(qgen));
  return 0;
}
