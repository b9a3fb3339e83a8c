#include <cuda_runtime.h>
cudaSurfaceObject_t surf_of(cudaArray_t a) {
  cudaResourceDesc res = {};
  res.resType = cudaResourceTypeArray;
  res.res.array.array = a;
  cudaSurfaceObject_t s = 0;
  cudaCreateSurfaceObject(&s, &res);
  return s;
}
void drop(cudaSurfaceObject_t s) { cudaDestroySurfaceObject(s); }
