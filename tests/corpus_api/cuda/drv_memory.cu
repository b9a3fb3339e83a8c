#include <cuda.h>
void copies(const float* host, float* back, size_t n, CUstream s) {
  CUdeviceptr d;
  cuMemAlloc(&d, n * sizeof(float));
  cuMemcpyHtoDAsync(d, host, n * sizeof(float), s);
  cuMemsetD32(d, 0, n);
  cuMemcpyDtoHAsync(back, d, n * sizeof(float), s);
  cuStreamSynchronize(s);
  size_t freeB = 0, totalB = 0;
  cuMemGetInfo(&freeB, &totalB);
  void* pinned = nullptr;
  cuMemHostAlloc(&pinned, 1024, CU_MEMHOSTALLOC_DEVICEMAP);
  cuMemFreeHost(pinned);
  cuMemFree(d);
}
