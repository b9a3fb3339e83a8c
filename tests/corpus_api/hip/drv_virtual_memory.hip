// Reserve a virtual range, back it with physical memory and map it.
#include <hip/hip_runtime.h>
hipDeviceptr_t reserve_and_map(size_t size, int dev) {
  hipMemAllocationProp prop = {};
  prop.type = hipMemAllocationTypePinned;
  prop.location.type = hipMemLocationTypeDevice;
  prop.location.id = dev;
  size_t gran = 0;
  hipMemGetAllocationGranularity(&gran, &prop, hipMemAllocationGranularityMinimum);
  size = (size + gran - 1) / gran * gran;
  hipMemGenericAllocationHandle_t h;
  hipMemCreate(&h, size, &prop, 0);
  hipDeviceptr_t va;
  hipMemAddressReserve(&va, size, 0, 0, 0);
  hipMemMap(va, size, 0, h, 0);
  hipMemAccessDesc access = {};
  access.location = prop.location;
  access.flags = hipMemAccessFlagsProtReadWrite;
  hipMemSetAccess(va, size, &access, 1);
  hipMemRelease(h);
  return va;
}
void unmap(hipDeviceptr_t va, size_t size) {
  hipMemUnmap(va, size);
  hipMemAddressFree(va, size);
}
