#include <cuda_runtime.h>
int advise(float* m, size_t n, int dev) {
  cudaMemAdvise(m, n, cudaMemAdviseSetPreferredLocation, dev);
  int mostly = 0;
  cudaMemRangeGetAttribute(&mostly, sizeof(mostly), cudaMemRangeAttributeReadMostly, m, n);
  cudaMemcpy(m, m, n, cudaMemcpyDefault);
  return mostly;
}
