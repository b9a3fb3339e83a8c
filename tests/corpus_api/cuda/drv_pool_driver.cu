#include <cuda.h>
void pool_cfg(CUdevice dev) {
  CUmemoryPool pool;
  cuDeviceGetDefaultMemPool(&pool, dev);
  cuuint64_t threshold = 1ull << 30;
  cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold);
  cuMemPoolTrimTo(pool, 0);
}
