#include <hip/hip_runtime.h>
void trim(int dev) {
  hipMemPool_t pool;
  hipDeviceGetDefaultMemPool(&pool, dev);
  hipMemPoolTrimTo(pool, 0);
  void* p;
  hipMallocAsync(&p, 1 << 20, 0);
  hipFreeAsync(p, 0);
}
