// Driver handle types through their struct tags, and a capture query.
#include <cuda.h>
struct Owned {
  struct CUstream_st* stream;
  struct CUevent_st* done;
  struct CUgraph_st* graph;
  struct CUmod_st* module;
};
bool capturing(CUstream s) {
  CUstreamCaptureStatus st;
  cuStreamGetCaptureInfo(s, &st, nullptr);
  return st == CU_STREAM_CAPTURE_STATUS_ACTIVE;
}
