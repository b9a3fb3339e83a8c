#include <hipfft/hipfft.h>
void spectra(hipfftReal* in, hipfftComplex* out, hipfftDoubleComplex* z, int nx, int ny) {
  hipfftHandle p2, pz;
  hipfftPlan2d(&p2, nx, ny, HIPFFT_R2C);
  hipfftExecR2C(p2, in, out);
  hipfftCreate(&pz);
  size_t work = 0;
  hipfftMakePlan1d(pz, nx, HIPFFT_Z2Z, 1, &work);
  hipfftExecZ2Z(pz, z, z, HIPFFT_FORWARD);
  hipfftDestroy(pz);
  hipfftDestroy(p2);
}
