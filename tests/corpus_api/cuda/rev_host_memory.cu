#include <cuda_runtime.h>
void pinned(size_t n) {
  float* a = nullptr;
  float* b = nullptr;
  cudaMallocHost((void**)&a, n);
  cudaHostAlloc((void**)&b, n, cudaHostAllocPortable | cudaHostAllocMapped);
  cudaFreeHost(a);
  cudaFreeHost(b);
  cudaMallocHost((void**)&a, n);
  cudaFreeHost(a);
}
