#include <cuda_runtime.h>
float* pin_and_map(float* buf, size_t n) {
  cudaHostRegister(buf, n * sizeof(float), cudaHostRegisterDefault);
  float* dev = nullptr;
  cudaHostGetDevicePointer((void**)&dev, buf, 0);
  return dev;
}
void unpin(float* buf) { cudaHostUnregister(buf); }
