#include <hip/hip_runtime.h>
void host_done(void* flag) { *static_cast<int*>(flag) = 1; }
int pipeline(int* flag) {
  int lo = 0, hi = 0;
  hipDeviceGetStreamPriorityRange(&lo, &hi);
  hipStream_t fast;
  hipStreamCreateWithPriority(&fast, hipStreamNonBlocking, hi);
  hipEvent_t ev;
  hipEventCreateWithFlags(&ev, hipEventDisableTiming);
  hipEventRecord(ev, fast);
  hipStreamWaitEvent(0, ev, 0);
  hipLaunchHostFunc(fast, host_done, flag);
  while (hipStreamQuery(fast) == hipErrorNotReady) {}
  hipEventDestroy(ev);
  hipStreamDestroy(fast);
  return lo - hi;
}
