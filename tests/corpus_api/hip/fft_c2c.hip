#include <hipfft/hipfft.h>
int transform(hipfftComplex* data, int n, int batch, hipStream_t s) {
  hipfftHandle plan;
  if (hipfftPlan1d(&plan, n, HIPFFT_C2C, batch) != HIPFFT_SUCCESS) return 1;
  hipfftSetStream(plan, s);
  hipfftExecC2C(plan, data, data, HIPFFT_FORWARD);
  hipfftResult r = hipfftExecC2C(plan, data, data, HIPFFT_BACKWARD);
  hipfftDestroy(plan);
  return r == HIPFFT_SUCCESS ? 0 : 2;
}
