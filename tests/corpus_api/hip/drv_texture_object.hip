#include <hip/hip_runtime.h>
hipTextureObject_t tex_of(hipArray_t arr) {
  HIP_RESOURCE_DESC res = {};
  res.resType = HIP_RESOURCE_TYPE_ARRAY;
  res.res.array.hArray = arr;
  HIP_TEXTURE_DESC td = {};
  td.addressMode[0] = HIP_TR_ADDRESS_MODE_CLAMP;
  td.filterMode = HIP_TR_FILTER_MODE_POINT;
  hipTextureObject_t t;
  hipTexObjectCreate(&t, &res, &td, nullptr);
  return t;
}
hipArray_t make_array(size_t w, size_t h) {
  HIP_ARRAY_DESCRIPTOR d = {};
  d.Width = w;
  d.Height = h;
  d.Format = HIP_AD_FORMAT_FLOAT;
  d.NumChannels = 1;
  hipArray_t a;
  hipArrayCreate(&a, &d);
  return a;
}
void drop(hipTextureObject_t t, hipArray_t a) { hipTexObjectDestroy(t); hipArrayDestroy(a); }
