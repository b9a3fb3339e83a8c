// A library header that declares the runtime's handle types itself.
#include <hip/hip_runtime_api.h>
typedef struct ihipStream_t* hipStream_t;
typedef struct ihipEvent_t* hipEvent_t;
int record(hipStream_t s, hipEvent_t e) { return hipEventRecord(e, s) == hipSuccess; }
