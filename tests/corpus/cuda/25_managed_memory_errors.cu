// Unified memory with prefetching, memset, error queries and an error-check helper function.
#include <cstdio>
#include <cuda_runtime.h>

inline void check(cudaError_t code, const char* file, int line) {
  if (code != cudaSuccess) {
    fprintf(stderr, "%s(%d): %s (%s)\n", file, line, cudaGetErrorString(code), cudaGetErrorName(code));
    if (code == cudaErrorMemoryAllocation) fprintf(stderr, "out of device memory\n");
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
  checkCudaErrors(cudaGetDevice(&device));
  checkCudaErrors(cudaMallocManaged(&data, n * sizeof(int), cudaMemAttachGlobal));
  checkCudaErrors(cudaMemAdvise(data, n * sizeof(int), cudaMemAdviseSetPreferredLocation, device));
  checkCudaErrors(cudaMemPrefetchAsync(data, n * sizeof(int), device, 0));
  checkCudaErrors(cudaMemset(data, 0, n * sizeof(int)));
  init<<<(n + 511) / 512, 512>>>(data, n);
  checkCudaErrors(cudaPeekAtLastError());
  cudaError_t err = cudaDeviceSynchronize();
  if (err == cudaErrorLaunchFailure || err == cudaErrorIllegalAddress) return 2;
  checkCudaErrors(cudaMemPrefetchAsync(data, n * sizeof(int), cudaCpuDeviceId, 0));
  checkCudaErrors(cudaDeviceSynchronize());
  printf("data[42] = %d\n", data[42]);
  checkCudaErrors(cudaFree(data));
  checkCudaErrors(cudaDeviceReset());
  return 0;
}
