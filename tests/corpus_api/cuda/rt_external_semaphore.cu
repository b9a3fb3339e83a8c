#include <cuda_runtime.h>
void sync_with(int fd, cudaStream_t s) {
  cudaExternalSemaphoreHandleDesc desc = {};
  desc.type = cudaExternalSemaphoreHandleTypeOpaqueFd;
  desc.handle.fd = fd;
  cudaExternalSemaphore_t sem;
  cudaImportExternalSemaphore(&sem, &desc);
  cudaExternalSemaphoreWaitParams wait = {};
  cudaWaitExternalSemaphoresAsync(&sem, &wait, 1, s);
  cudaExternalSemaphoreSignalParams sig = {};
  cudaSignalExternalSemaphoresAsync(&sem, &sig, 1, s);
  cudaDestroyExternalSemaphore(sem);
}
