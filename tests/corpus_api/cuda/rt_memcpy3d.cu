#include <cuda_runtime.h>
void copy_volume(float* host, int nx, int ny, int nz) {
  cudaExtent ext = make_cudaExtent(nx * sizeof(float), ny, nz);
  cudaPitchedPtr dev;
  cudaMalloc3D(&dev, ext);
  cudaMemcpy3DParms p = {};
  p.srcPtr = make_cudaPitchedPtr(host, nx * sizeof(float), nx, ny);
  p.dstPtr = dev;
  p.extent = ext;
  p.srcPos = make_cudaPos(0, 0, 0);
  p.kind = cudaMemcpyHostToDevice;
  cudaMemcpy3D(&p);
  cudaFree(dev.ptr);
}
