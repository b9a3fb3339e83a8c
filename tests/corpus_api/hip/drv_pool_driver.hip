#include <hip/hip_runtime.h>
void pool_cfg(hipDevice_t dev) {
  hipMemPool_t pool;
  hipDeviceGetDefaultMemPool(&pool, dev);
  cuuint64_t threshold = 1ull << 30;
  hipMemPoolSetAttribute(pool, hipMemPoolAttrReleaseThreshold, &threshold);
  hipMemPoolTrimTo(pool, 0);
}
