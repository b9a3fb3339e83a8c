#include "common.h"

int main()
{
    int device = 0;
    CHECK(hipGetDevice(&device));
    hipDeviceProp_t prop;
    CHECK(hipGetDeviceProperties(&prop, device));
    // Clock and memory-clock fields: CUDA 13 removed them from the properties struct.
    double peak_gbs = 2.0 * prop.memoryClockRate * (prop.memoryBusWidth / 8) / 1.0e6;
    std::printf("%s: %d SMs/CUs, %d kHz, warp %d, peak %.0f GB/s\n", prop.name, prop.multiProcessorCount,
                prop.clockRate, prop.warpSize, peak_gbs);
    int attr_clock = 0;
    CHECK(hipDeviceGetAttribute(&attr_clock, hipDeviceAttributeClockRate, device));
    bool ok = prop.multiProcessorCount > 0 && prop.clockRate > 0 && attr_clock == prop.clockRate &&
              prop.memoryClockRate > 0 && (prop.warpSize == 32 || prop.warpSize == 64) &&
              prop.maxThreadsPerBlock >= 256;
    return finish(ok, "device_props");
}
