#include <cuda.h>
CUtexObject tex_of(CUarray arr) {
  CUDA_RESOURCE_DESC res = {};
  res.resType = CU_RESOURCE_TYPE_ARRAY;
  res.res.array.hArray = arr;
  CUDA_TEXTURE_DESC td = {};
  td.addressMode[0] = CU_TR_ADDRESS_MODE_CLAMP;
  td.filterMode = CU_TR_FILTER_MODE_POINT;
  CUtexObject t;
  cuTexObjectCreate(&t, &res, &td, nullptr);
  return t;
}
CUarray make_array(size_t w, size_t h) {
  CUDA_ARRAY_DESCRIPTOR d = {};
  d.Width = w;
  d.Height = h;
  d.Format = CU_AD_FORMAT_FLOAT;
  d.NumChannels = 1;
  CUarray a;
  cuArrayCreate(&a, &d);
  return a;
}
void drop(CUtexObject t, CUarray a) { cuTexObjectDestroy(t); cuArrayDestroy(a); }
