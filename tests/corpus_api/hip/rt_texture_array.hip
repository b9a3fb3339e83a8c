#include <hip/hip_runtime.h>
hipTextureObject_t make_tex(const float* host, int w, int h, hipArray_t* arr) {
  hipChannelFormatDesc ch = hipCreateChannelDesc<float>();
  hipMallocArray(arr, &ch, w, h);
  hipMemcpy2DToArray(*arr, 0, 0, host, w * sizeof(float), w * sizeof(float), h, hipMemcpyHostToDevice);
  hipResourceDesc res = {};
  res.resType = hipResourceTypeArray;
  res.res.array.array = *arr;
  hipTextureDesc td = {};
  td.addressMode[0] = hipAddressModeClamp;
  td.filterMode = hipFilterModeLinear;
  td.readMode = hipReadModeElementType;
  hipTextureObject_t tex = 0;
  hipCreateTextureObject(&tex, &res, &td, nullptr);
  return tex;
}
void drop(hipTextureObject_t t, hipArray_t a) { hipDestroyTextureObject(t); hipFreeArray(a); }
