#include <cuda_runtime.h>
void trim(int dev) {
  cudaMemPool_t pool;
  cudaDeviceGetDefaultMemPool(&pool, dev);
  cudaMemPoolTrimTo(pool, 0);
  void* p;
  cudaMallocAsync(&p, 1 << 20, 0);
  cudaFreeAsync(p, 0);
}
