#include <hip/hip_runtime.h>
int advise(float* m, size_t n, int dev) {
  hipMemAdvise(m, n, hipMemAdviseSetPreferredLocation, dev);
  int mostly = 0;
  hipMemRangeGetAttribute(&mostly, sizeof(mostly), hipMemRangeAttributeReadMostly, m, n);
  hipMemcpy(m, m, n, hipMemcpyDefault);
  return mostly;
}
