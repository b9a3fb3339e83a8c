#include <hip/hip_runtime.h>
hipIpcMemHandle_t share(void* d) {
  hipIpcMemHandle_t h;
  hipIpcGetMemHandle(&h, d);
  return h;
}
void* open_shared(hipIpcMemHandle_t h) {
  void* p = nullptr;
  hipIpcOpenMemHandle(&p, h, hipIpcMemLazyEnablePeerAccess);
  return p;
}
void close_shared(void* p) { hipIpcCloseMemHandle(p); }
