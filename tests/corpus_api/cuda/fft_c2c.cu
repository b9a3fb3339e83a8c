#include <cufft.h>
int transform(cufftComplex* data, int n, int batch, cudaStream_t s) {
  cufftHandle plan;
  if (cufftPlan1d(&plan, n, CUFFT_C2C, batch) != CUFFT_SUCCESS) return 1;
  cufftSetStream(plan, s);
  cufftExecC2C(plan, data, data, CUFFT_FORWARD);
  cufftResult r = cufftExecC2C(plan, data, data, CUFFT_INVERSE);
  cufftDestroy(plan);
  return r == CUFFT_SUCCESS ? 0 : 2;
}
