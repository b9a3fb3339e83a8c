// Unified memory with prefetching, memset, error queries and an error-check helper function.
#include <cstdio>
#include <hip/hip_runtime.h>

inline void check(hipError_t code, const char* file, int line) {
  if (code != hipSuccess) {
    fprintf(stderr, "%s(%d): %s (%s)\n", file, line, hipGetErrorString(code), hipGetErrorName(code));
    if (code == hipErrorOutOfMemory) fprintf(stderr, "out of device memory\n");
  }
}
#define checkCudaErrors(val) check((val), __FILE__, __LINE__)

__global__ void init(int* data, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) data[i] = i;
}

int main() {
  const int n = 1 << 16;
  int* data = nullptr;
  int device = 0;
  checkCudaErrors(hipGetDevice(&device));
  checkCudaErrors(hipMallocManaged(&data, n * sizeof(int), hipMemAttachGlobal));
  checkCudaErrors(hipMemAdvise(data, n * sizeof(int), hipMemAdviseSetPreferredLocation, device));
  checkCudaErrors(hipMemPrefetchAsync(data, n * sizeof(int), device, 0));
  checkCudaErrors(hipMemset(data, 0, n * sizeof(int)));
  init<<<(n + 511) / 512, 512>>>(data, n);
  checkCudaErrors(hipPeekAtLastError());
  hipError_t err = hipDeviceSynchronize();
  if (err == hipErrorLaunchFailure || err == hipErrorIllegalAddress) return 2;
  checkCudaErrors(hipMemPrefetchAsync(data, n * sizeof(int), hipCpuDeviceId, 0));
  checkCudaErrors(hipDeviceSynchronize());
  printf("data[42] = %d\n", data[42]);
  checkCudaErrors(hipFree(data));
  checkCudaErrors(hipDeviceReset());
  return 0;
}
