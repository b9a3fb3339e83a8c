#include <cufft.h>
void spectra(cufftReal* in, cufftComplex* out, cufftDoubleComplex* z, int nx, int ny) {
  cufftHandle p2, pz;
  cufftPlan2d(&p2, nx, ny, CUFFT_R2C);
  cufftExecR2C(p2, in, out);
  cufftCreate(&pz);
  size_t work = 0;
  cufftMakePlan1d(pz, nx, CUFFT_Z2Z, 1, &work);
  cufftExecZ2Z(pz, z, z, CUFFT_FORWARD);
  cufftDestroy(pz);
  cufftDestroy(p2);
}
