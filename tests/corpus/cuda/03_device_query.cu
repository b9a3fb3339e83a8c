// Print the properties of every visible device and pick the one with most multiprocessors.
#include <cstdio>
#include <cuda_runtime.h>

static int pick_device() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) return -1;
  int best = 0, best_sms = 0;
  for (int dev = 0; dev < count; ++dev) {
    cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, dev);
    printf("device %d: %s, cc %d.%d, %d SMs, %zu MiB, warp %d, smem/block %zu\n", dev, prop.name,
           prop.major, prop.minor, prop.multiProcessorCount, prop.totalGlobalMem >> 20, prop.warpSize,
           prop.sharedMemPerBlock);
    printf("  max threads/block %d, regs/block %d, bus %d bits, l2 %d bytes\n", prop.maxThreadsPerBlock,
           prop.regsPerBlock, prop.memoryBusWidth, prop.l2CacheSize);
    int sms = 0;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
    int smem_optin = 0;
    cudaDeviceGetAttribute(&smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    int major = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev);
    if (sms > best_sms) { best = dev; best_sms = sms; }
  }
  return best;
}

int main() {
  int dev = pick_device();
  if (dev < 0) { printf("no device\n"); return 1; }
  cudaSetDevice(dev);
  int current = -1;
  cudaGetDevice(&current);
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  size_t free_bytes = 0, total_bytes = 0;
  cudaMemGetInfo(&free_bytes, &total_bytes);
  printf("using %d (driver %d, runtime %d), %zu of %zu bytes free\n", current, driver, runtime, free_bytes,
         total_bytes);
  cudaDeviceReset();
  return 0;
}
