#include <hip/hip_runtime.h>
void mirror(void* dst, int dstDev, const void* src, int srcDev, size_t n, hipStream_t s) {
  int ok = 0;
  hipDeviceCanAccessPeer(&ok, dstDev, srcDev);
  if (ok) {
    hipSetDevice(dstDev);
    hipDeviceEnablePeerAccess(srcDev, 0);
  }
  hipMemcpyPeerAsync(dst, dstDev, src, srcDev, n, s);
}
