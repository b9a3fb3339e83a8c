#include <hip/hip_runtime.h>
hipSurfaceObject_t surf_of(hipArray_t a) {
  hipResourceDesc res = {};
  res.resType = hipResourceTypeArray;
  res.res.array.array = a;
  hipSurfaceObject_t s = 0;
  hipCreateSurfaceObject(&s, &res);
  return s;
}
void drop(hipSurfaceObject_t s) { hipDestroySurfaceObject(s); }
