// Real-to-complex FFT, pointwise filtering, inverse FFT.
#include <cstdio>
#include <hip/hip_runtime.h>
#include <hipfft/hipfft.h>

#define CUFFT_CHECK(x) do { hipfftResult r = (x); if (r != HIPFFT_SUCCESS) { \
  fprintf(stderr, "cuFFT error %d\n", (int)r); return 1; } } while (0)

__global__ void lowpass(hipfftComplex* spec, int bins, int cutoff, float scale) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= bins) return;
  hipfftComplex v = spec[i];
  float keep = i < cutoff ? scale : 0.0f;
  spec[i].x = v.x * keep;
  spec[i].y = v.y * keep;
}

int filter(hipfftReal* signal, hipfftComplex* spectrum, int n, int batch, hipStream_t stream) {
  hipfftHandle fwd, inv;
  CUFFT_CHECK(hipfftPlan1d(&fwd, n, HIPFFT_R2C, batch));
  int dims[1] = {n};
  CUFFT_CHECK(hipfftPlanMany(&inv, 1, dims, nullptr, 1, n / 2 + 1, nullptr, 1, n, HIPFFT_C2R, batch));
  CUFFT_CHECK(hipfftSetStream(fwd, stream));
  CUFFT_CHECK(hipfftSetStream(inv, stream));
  CUFFT_CHECK(hipfftExecR2C(fwd, signal, spectrum));
  int bins = (n / 2 + 1) * batch;
  lowpass<<<(bins + 255) / 256, 256, 0, stream>>>(spectrum, bins, n / 8, 1.0f / n);
  CUFFT_CHECK(hipfftExecC2R(inv, spectrum, signal));
  hipfftDestroy(fwd);
  hipfftDestroy(inv);
  return 0;
}

int complex_roundtrip(hipfftDoubleComplex* data, int nx, int ny) {
  hipfftHandle plan;
  if (hipfftPlan2d(&plan, nx, ny, HIPFFT_Z2Z) != HIPFFT_SUCCESS) return 1;
  hipfftExecZ2Z(plan, data, data, HIPFFT_FORWARD);
  hipfftExecZ2Z(plan, data, data, HIPFFT_BACKWARD);
  size_t work = 0;
  hipfftGetSize(plan, &work);
  hipfftDestroy(plan);
  return 0;
}
