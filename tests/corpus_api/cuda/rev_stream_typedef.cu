// A library header that declares the runtime's handle types itself.
#include <cuda_runtime_api.h>
typedef struct CUstream_st* cudaStream_t;
typedef struct CUevent_st* cudaEvent_t;
int record(cudaStream_t s, cudaEvent_t e) { return cudaEventRecord(e, s) == cudaSuccess; }
