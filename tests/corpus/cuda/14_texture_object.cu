// Bilinear resampling through a texture object bound to a CUDA array.
#include <cstring>
#include <cuda_runtime.h>

__global__ void resample(cudaTextureObject_t tex, float* out, int w, int h, float sx, float sy) {
  int x = blockIdx.x * blockDim.x + threadIdx.x;
  int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x < w && y < h) out[y * w + x] = tex2D<float>(tex, (x + 0.5f) * sx, (y + 0.5f) * sy); // expect: texture
}

int resize(const float* src, int sw, int sh, float* dst, int dw, int dh) {
  cudaChannelFormatDesc desc = cudaCreateChannelDesc<float>();
  cudaArray_t array;
  cudaMallocArray(&array, &desc, sw, sh);
  cudaMemcpy2DToArray(array, 0, 0, src, sw * sizeof(float), sw * sizeof(float), sh, cudaMemcpyHostToDevice);

  cudaResourceDesc res;
  memset(&res, 0, sizeof(res));
  res.resType = cudaResourceTypeArray;
  res.res.array.array = array;
  cudaTextureDesc td;
  memset(&td, 0, sizeof(td));
  td.addressMode[0] = cudaAddressModeClamp;
  td.addressMode[1] = cudaAddressModeClamp;
  td.filterMode = cudaFilterModeLinear;
  td.readMode = cudaReadModeElementType;
  td.normalizedCoords = 0;
  cudaTextureObject_t tex = 0;
  cudaCreateTextureObject(&tex, &res, &td, nullptr);

  dim3 block(16, 16);
  dim3 grid((dw + 15) / 16, (dh + 15) / 16);
  resample<<<grid, block>>>(tex, dst, dw, dh, (float)sw / dw, (float)sh / dh);
  cudaDeviceSynchronize();
  cudaDestroyTextureObject(tex);
  cudaFreeArray(array);
  return 0;
}
