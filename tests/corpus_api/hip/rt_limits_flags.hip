#include <hip/hip_runtime.h>
#include <cstdio>
void configure() {
  hipSetDeviceFlags(hipDeviceScheduleBlockingSync | hipDeviceMapHost);
  hipDeviceSetLimit(hipLimitStackSize, 4096);
  hipDeviceSetLimit(hipLimitMallocHeapSize, 1 << 24);
  size_t stack = 0;
  hipDeviceGetLimit(&stack, hipLimitStackSize);
  hipDeviceSetCacheConfig(hipFuncCachePreferShared);
  hipError_t e = hipPeekAtLastError();
  if (e != hipSuccess) std::printf("%s: %s\n", hipGetErrorName(e), hipGetErrorString(e));
  hipDeviceReset();
}
