#include <hip/hip_runtime.h>
bool on_device(const void* p) {
  hipPointerAttribute_t attr;
  if (hipPointerGetAttributes(&attr, p) != hipSuccess) return false;
  return attr.type == hipMemoryTypeDevice || attr.type == hipMemoryTypeManaged;
}
