#include <hip/hip_runtime.h>
void copies(const float* host, float* back, size_t n, hipStream_t s) {
  hipDeviceptr_t d;
  hipMalloc(&d, n * sizeof(float));
  hipMemcpyHtoDAsync(d, host, n * sizeof(float), s);
  hipMemsetD32(d, 0, n);
  hipMemcpyDtoHAsync(back, d, n * sizeof(float), s);
  hipStreamSynchronize(s);
  size_t freeB = 0, totalB = 0;
  hipMemGetInfo(&freeB, &totalB);
  void* pinned = nullptr;
  hipHostMalloc(&pinned, 1024, hipHostMallocMapped);
  hipHostFree(pinned);
  hipFree(d);
}
