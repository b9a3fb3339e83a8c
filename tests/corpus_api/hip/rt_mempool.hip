// Stream-ordered allocation from an explicit memory pool.
#include <hip/hip_runtime.h>
int run(hipStream_t s, size_t n) {
  hipMemPoolProps props = {};
  props.allocType = hipMemAllocationTypePinned;
  props.location.type = hipMemLocationTypeDevice;
  props.location.id = 0;
  hipMemPool_t pool;
  if (hipMemPoolCreate(&pool, &props) != hipSuccess) return 1;
  unsigned long long threshold = ~0ull;
  hipMemPoolSetAttribute(pool, hipMemPoolAttrReleaseThreshold, &threshold);
  void* p = nullptr;
  hipMallocFromPoolAsync(&p, n, pool, s);
  hipMemsetAsync(p, 0, n, s);
  hipFreeAsync(p, s);
  hipStreamSynchronize(s);
  hipMemPoolDestroy(pool);
  return 0;
}
