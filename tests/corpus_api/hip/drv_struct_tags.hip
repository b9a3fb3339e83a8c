// Driver handle types through their struct tags, and a capture query.
#include <hip/hip_runtime.h>
struct Owned {
  struct ihipStream_t* stream;
  struct ihipEvent_t* done;
  struct ihipGraph* graph;
  struct ihipModule_t* module;
};
bool capturing(hipStream_t s) {
  hipStreamCaptureStatus st;
  hipStreamGetCaptureInfo(s, &st, nullptr);
  return st == hipStreamCaptureStatusActive;
}
