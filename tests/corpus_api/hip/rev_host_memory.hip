#include <hip/hip_runtime.h>
void pinned(size_t n) {
  float* a = nullptr;
  float* b = nullptr;
  hipHostMalloc((void**)&a, n);
  hipHostMalloc((void**)&b, n, hipHostMallocPortable | hipHostMallocMapped);
  hipFreeHost(a);
  hipHostFree(b);
  hipMallocHost((void**)&a, n);
  hipFreeHost(a);
}
