// Import memory exported by another API through an opaque file descriptor.
#include <hip/hip_runtime.h>
void* import_fd(int fd, size_t size) {
  hipExternalMemoryHandleDesc desc = {};
  desc.type = hipExternalMemoryHandleTypeOpaqueFd;
  desc.handle.fd = fd;
  desc.size = size;
  hipExternalMemory_t ext;
  hipImportExternalMemory(&ext, &desc);
  hipExternalMemoryBufferDesc buf = {};
  buf.offset = 0;
  buf.size = size;
  void* p = nullptr;
  hipExternalMemoryGetMappedBuffer(&p, ext, &buf);
  return p;
}
void release(hipExternalMemory_t ext) { hipDestroyExternalMemory(ext); }
