#include <hip/hip_runtime.h>
int describe(int dev) {
  int sms = 0, major = 0, drv = 0, rt = 0;
  hipDeviceGetAttribute(&sms, hipDeviceAttributeMultiprocessorCount, dev);
  hipDeviceGetAttribute(&major, hipDeviceAttributeComputeCapabilityMajor, dev);
  hipDriverGetVersion(&drv);
  hipRuntimeGetVersion(&rt);
  size_t freeMem = 0, total = 0;
  hipMemGetInfo(&freeMem, &total);
  return sms * 100 + major + (drv >= rt);
}
