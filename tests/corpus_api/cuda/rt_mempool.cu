// Stream-ordered allocation from an explicit memory pool.
#include <cuda_runtime.h>
int run(cudaStream_t s, size_t n) {
  cudaMemPoolProps props = {};
  props.allocType = cudaMemAllocationTypePinned;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = 0;
  cudaMemPool_t pool;
  if (cudaMemPoolCreate(&pool, &props) != cudaSuccess) return 1;
  unsigned long long threshold = ~0ull;
  cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold);
  void* p = nullptr;
  cudaMallocFromPoolAsync(&p, n, pool, s);
  cudaMemsetAsync(p, 0, n, s);
  cudaFreeAsync(p, s);
  cudaStreamSynchronize(s);
  cudaMemPoolDestroy(pool);
  return 0;
}
