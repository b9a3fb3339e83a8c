#include <hip/hip_runtime.h>
const char* classify(hipError_t e) {
  switch (e) {
    case hipSuccess: return "ok";
    case hipErrorOutOfMemory: return "oom";
    case hipErrorInvalidValue: return "bad value";
    case hipErrorInvalidDevice: return "bad device";
    case hipErrorNotReady: return "busy";
    case hipErrorLaunchFailure: return "launch";
    default: return hipGetErrorString(e);
  }
}
