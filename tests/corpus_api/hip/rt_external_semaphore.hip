#include <hip/hip_runtime.h>
void sync_with(int fd, hipStream_t s) {
  hipExternalSemaphoreHandleDesc desc = {};
  desc.type = hipExternalSemaphoreHandleTypeOpaqueFd;
  desc.handle.fd = fd;
  hipExternalSemaphore_t sem;
  hipImportExternalSemaphore(&sem, &desc);
  hipExternalSemaphoreWaitParams wait = {};
  hipWaitExternalSemaphoresAsync(&sem, &wait, 1, s);
  hipExternalSemaphoreSignalParams sig = {};
  hipSignalExternalSemaphoresAsync(&sem, &sig, 1, s);
  hipDestroyExternalSemaphore(sem);
}
