#include <cuda_runtime.h>
const char* classify(cudaError_t e) {
  switch (e) {
    case cudaSuccess: return "ok";
    case cudaErrorMemoryAllocation: return "oom";
    case cudaErrorInvalidValue: return "bad value";
    case cudaErrorInvalidDevice: return "bad device";
    case cudaErrorNotReady: return "busy";
    case cudaErrorLaunchFailure: return "launch";
    default: return cudaGetErrorString(e);
  }
}
