#include <cuda_runtime.h>
int describe(int dev) {
  int sms = 0, major = 0, drv = 0, rt = 0;
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
  cudaDriverGetVersion(&drv);
  cudaRuntimeGetVersion(&rt);
  size_t freeMem = 0, total = 0;
  cudaMemGetInfo(&freeMem, &total);
  return sms * 100 + major + (drv >= rt);
}
