#include <cuda_runtime.h>
void host_done(void* flag) { *static_cast<int*>(flag) = 1; }
int pipeline(int* flag) {
  int lo = 0, hi = 0;
  cudaDeviceGetStreamPriorityRange(&lo, &hi);
  cudaStream_t fast;
  cudaStreamCreateWithPriority(&fast, cudaStreamNonBlocking, hi);
  cudaEvent_t ev;
  cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
  cudaEventRecord(ev, fast);
  cudaStreamWaitEvent(0, ev, 0);
  cudaLaunchHostFunc(fast, host_done, flag);
  while (cudaStreamQuery(fast) == cudaErrorNotReady) {}
  cudaEventDestroy(ev);
  cudaStreamDestroy(fast);
  return lo - hi;
}
