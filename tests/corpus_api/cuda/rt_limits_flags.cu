#include <cuda_runtime.h>
#include <cstdio>
void configure() {
  cudaSetDeviceFlags(cudaDeviceScheduleBlockingSync | cudaDeviceMapHost);
  cudaDeviceSetLimit(cudaLimitStackSize, 4096);
  cudaDeviceSetLimit(cudaLimitMallocHeapSize, 1 << 24);
  size_t stack = 0;
  cudaDeviceGetLimit(&stack, cudaLimitStackSize);
  cudaDeviceSetCacheConfig(cudaFuncCachePreferShared);
  cudaError_t e = cudaPeekAtLastError();
  if (e != cudaSuccess) std::printf("%s: %s\n", cudaGetErrorName(e), cudaGetErrorString(e));
  cudaDeviceReset();
}
