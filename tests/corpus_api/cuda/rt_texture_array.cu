#include <cuda_runtime.h>
cudaTextureObject_t make_tex(const float* host, int w, int h, cudaArray_t* arr) {
  cudaChannelFormatDesc ch = cudaCreateChannelDesc<float>();
  cudaMallocArray(arr, &ch, w, h);
  cudaMemcpy2DToArray(*arr, 0, 0, host, w * sizeof(float), w * sizeof(float), h, cudaMemcpyHostToDevice);
  cudaResourceDesc res = {};
  res.resType = cudaResourceTypeArray;
  res.res.array.array = *arr;
  cudaTextureDesc td = {};
  td.addressMode[0] = cudaAddressModeClamp;
  td.filterMode = cudaFilterModeLinear;
  td.readMode = cudaReadModeElementType;
  cudaTextureObject_t tex = 0;
  cudaCreateTextureObject(&tex, &res, &td, nullptr);
  return tex;
}
void drop(cudaTextureObject_t t, cudaArray_t a) { cudaDestroyTextureObject(t); cudaFreeArray(a); }
