#include <hip/hip_runtime.h>
void copy_volume(float* host, int nx, int ny, int nz) {
  hipExtent ext = make_hipExtent(nx * sizeof(float), ny, nz);
  hipPitchedPtr dev;
  hipMalloc3D(&dev, ext);
  hipMemcpy3DParms p = {};
  p.srcPtr = make_hipPitchedPtr(host, nx * sizeof(float), nx, ny);
  p.dstPtr = dev;
  p.extent = ext;
  p.srcPos = make_hipPos(0, 0, 0);
  p.kind = hipMemcpyHostToDevice;
  hipMemcpy3D(&p);
  hipFree(dev.ptr);
}
