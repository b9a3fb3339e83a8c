// Import memory exported by another API through an opaque file descriptor.
#include <cuda_runtime.h>
void* import_fd(int fd, size_t size) {
  cudaExternalMemoryHandleDesc desc = {};
  desc.type = cudaExternalMemoryHandleTypeOpaqueFd;
  desc.handle.fd = fd;
  desc.size = size;
  cudaExternalMemory_t ext;
  cudaImportExternalMemory(&ext, &desc);
  cudaExternalMemoryBufferDesc buf = {};
  buf.offset = 0;
  buf.size = size;
  void* p = nullptr;
  cudaExternalMemoryGetMappedBuffer(&p, ext, &buf);
  return p;
}
void release(cudaExternalMemory_t ext) { cudaDestroyExternalMemory(ext); }
