// Real-to-complex FFT, pointwise filtering, inverse FFT.
#include <cstdio>
#include <cuda_runtime.h>
#include <cufft.h>

#define CUFFT_CHECK(x) do { cufftResult r = (x); if (r != CUFFT_SUCCESS) { \
  fprintf(stderr, "cuFFT error %d\n", (int)r); return 1; } } while (0)

__global__ void lowpass(cufftComplex* spec, int bins, int cutoff, float scale) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= bins) return;
  cufftComplex v = spec[i];
  float keep = i < cutoff ? scale : 0.0f;
  spec[i].x = v.x * keep;
  spec[i].y = v.y * keep;
}

int filter(cufftReal* signal, cufftComplex* spectrum, int n, int batch, cudaStream_t stream) {
  cufftHandle fwd, inv;
  CUFFT_CHECK(cufftPlan1d(&fwd, n, CUFFT_R2C, batch));
  int dims[1] = {n};
  CUFFT_CHECK(cufftPlanMany(&inv, 1, dims, nullptr, 1, n / 2 + 1, nullptr, 1, n, CUFFT_C2R, batch));
  CUFFT_CHECK(cufftSetStream(fwd, stream));
  CUFFT_CHECK(cufftSetStream(inv, stream));
  CUFFT_CHECK(cufftExecR2C(fwd, signal, spectrum));
  int bins = (n / 2 + 1) * batch;
  lowpass<<<(bins + 255) / 256, 256, 0, stream>>>(spectrum, bins, n / 8, 1.0f / n);
  CUFFT_CHECK(cufftExecC2R(inv, spectrum, signal));
  cufftDestroy(fwd);
  cufftDestroy(inv);
  return 0;
}

int complex_roundtrip(cufftDoubleComplex* data, int nx, int ny) {
  cufftHandle plan;
  if (cufftPlan2d(&plan, nx, ny, CUFFT_Z2Z) != CUFFT_SUCCESS) return 1;
  cufftExecZ2Z(plan, data, data, CUFFT_FORWARD);
  cufftExecZ2Z(plan, data, data, CUFFT_INVERSE);
  size_t work = 0;
  cufftGetSize(plan, &work);
  cufftDestroy(plan);
  return 0;
}
