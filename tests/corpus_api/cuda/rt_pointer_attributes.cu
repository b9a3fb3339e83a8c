#include <cuda_runtime.h>
bool on_device(const void* p) {
  cudaPointerAttributes attr;
  if (cudaPointerGetAttributes(&attr, p) != cudaSuccess) return false;
  return attr.type == cudaMemoryTypeDevice || attr.type == cudaMemoryTypeManaged;
}
