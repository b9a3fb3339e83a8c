// Bilinear resampling through a texture object bound to a CUDA array.
#include <cstring>
#include <hip/hip_runtime.h>

__global__ void resample(hipTextureObject_t tex, float* out, int w, int h, float sx, float sy) {
  int x = blockIdx.x * blockDim.x + threadIdx.x;
  int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x < w && y < h) out[y * w + x] = tex2D<float>(tex, (x + 0.5f) * sx, (y + 0.5f) * sy); // expect: texture
}

int resize(const float* src, int sw, int sh, float* dst, int dw, int dh) {
  hipChannelFormatDesc desc = hipCreateChannelDesc<float>();
  hipArray_t array;
  hipMallocArray(&array, &desc, sw, sh);
  hipMemcpy2DToArray(array, 0, 0, src, sw * sizeof(float), sw * sizeof(float), sh, hipMemcpyHostToDevice);

  hipResourceDesc res;
  memset(&res, 0, sizeof(res));
  res.resType = hipResourceTypeArray;
  res.res.array.array = array;
  hipTextureDesc td;
  memset(&td, 0, sizeof(td));
  td.addressMode[0] = hipAddressModeClamp;
  td.addressMode[1] = hipAddressModeClamp;
  td.filterMode = hipFilterModeLinear;
  td.readMode = hipReadModeElementType;
  td.normalizedCoords = 0;
  hipTextureObject_t tex = 0;
  hipCreateTextureObject(&tex, &res, &td, nullptr);

  dim3 block(16, 16);
  dim3 grid((dw + 15) / 16, (dh + 15) / 16);
  resample<<<grid, block>>>(tex, dst, dw, dh, (float)sw / dw, (float)sh / dh);
  hipDeviceSynchronize();
  hipDestroyTextureObject(tex);
  hipFreeArray(array);
  return 0;
}
