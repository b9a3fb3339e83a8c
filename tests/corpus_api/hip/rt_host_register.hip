#include <hip/hip_runtime.h>
float* pin_and_map(float* buf, size_t n) {
  hipHostRegister(buf, n * sizeof(float), hipHostRegisterDefault);
  float* dev = nullptr;
  hipHostGetDevicePointer((void**)&dev, buf, 0);
  return dev;
}
void unpin(float* buf) { hipHostUnregister(buf); }
