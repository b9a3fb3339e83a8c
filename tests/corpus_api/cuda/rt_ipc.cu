#include <cuda_runtime.h>
cudaIpcMemHandle_t share(void* d) {
  cudaIpcMemHandle_t h;
  cudaIpcGetMemHandle(&h, d);
  return h;
}
void* open_shared(cudaIpcMemHandle_t h) {
  void* p = nullptr;
  cudaIpcOpenMemHandle(&p, h, cudaIpcMemLazyEnablePeerAccess);
  return p;
}
void close_shared(void* p) { cudaIpcCloseMemHandle(p); }
