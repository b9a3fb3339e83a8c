// Reserve a virtual range, back it with physical memory and map it.
#include <cuda.h>
CUdeviceptr reserve_and_map(size_t size, int dev) {
  CUmemAllocationProp prop = {};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = dev;
  size_t gran = 0;
  cuMemGetAllocationGranularity(&gran, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM);
  size = (size + gran - 1) / gran * gran;
  CUmemGenericAllocationHandle h;
  cuMemCreate(&h, size, &prop, 0);
  CUdeviceptr va;
  cuMemAddressReserve(&va, size, 0, 0, 0);
  cuMemMap(va, size, 0, h, 0);
  CUmemAccessDesc access = {};
  access.location = prop.location;
  access.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  cuMemSetAccess(va, size, &access, 1);
  cuMemRelease(h);
  return va;
}
void unmap(CUdeviceptr va, size_t size) {
  cuMemUnmap(va, size);
  cuMemAddressFree(va, size);
}
