#include <hip/hip_runtime.h>
void persist(void* base, size_t bytes) {
  hipAccessPolicyWindow w = {};
  w.base_ptr = base;
  w.num_bytes = bytes;
  w.hitRatio = 1.0f;
  w.hitProp = hipAccessPropertyPersisting;
  w.missProp = hipAccessPropertyStreaming;
}
