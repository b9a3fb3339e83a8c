// HIP-only host and device API: the extended launch with start and stop events, the synchronous copy on a
// stream, driver-style device queries, the AMD bit-field and lane functions, HIP's own property names.
#include "common.h"
#include <hip/hip_ext.h>
#include <cstdint>
#include <cstring>
#include <vector>

__global__ void fields(const unsigned* in, unsigned* out, unsigned long long* wide, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    unsigned v = in[i];
    unsigned at = i % 17, bits = (i / 17) % 16;    // fields inside the word
    out[2 * i] = __bitextract_u32(v, at, bits);
    out[2 * i + 1] = __bitinsert_u32(v, ~v, at, bits);
    wide[i] = __bitextract_u64(((unsigned long long)v << 32) | ~v, at + 3, bits + 20);
}

__global__ void lanes(int* ok)
{
    // the lane within the wavefront, three ways (the wavefront is 64 or 32 lanes wide)
    unsigned tid = threadIdx.x;
    unsigned by_mask = __mbcnt_hi(~0u, __mbcnt_lo(~0u, 0u));
    ok[tid] = __lane_id() == tid % warpSize && by_mask == tid % warpSize;
}

static unsigned extract32(unsigned v, unsigned at, unsigned bits)
{
    at &= 31; bits &= 31;
    return bits == 0 ? 0u : (v >> at) & ((1u << bits) - 1u);
}

static unsigned insert32(unsigned v, unsigned field, unsigned at, unsigned bits)
{
    at &= 31;
    unsigned mask = (1u << (bits & 31)) - 1u;
    return (v & ~(mask << at)) | ((field & mask) << at);
}

static unsigned long long extract64(unsigned long long v, unsigned at, unsigned bits)
{
    at &= 63; bits &= 63;
    return bits == 0 ? 0ull : (v >> at) & ((1ull << bits) - 1ull);
}

int main()
{
    hipDeviceProp_t props;
    CHECK(hipGetDeviceProperties(&props, 0));
    bool ok = props.clockInstructionRate > 0 && props.maxSharedMemoryPerMultiProcessor >= props.sharedMemPerBlock
              && props.arch.hasGlobalInt32Atomics;
    // the driver-style device queries agree with the properties
    hipDevice_t dev;
    char name[256];
    size_t total = 0;
    int major = 0, minor = 0;
    CHECK(hipDeviceGet(&dev, 0));
    CHECK(hipDeviceGetName(name, sizeof(name), dev));
    CHECK(hipDeviceTotalMem(&total, dev));
    CHECK(hipDeviceComputeCapability(&major, &minor, dev));
    ok = ok && std::strcmp(name, props.name) == 0 && total == props.totalGlobalMem && major == props.major
         && minor == props.minor;

    const int n = 4096;
    std::vector<unsigned> in(n), out(2 * n);
    std::vector<unsigned long long> wide(n);
    uint32_t s = 12345u;
    for (int i = 0; i < n; ++i) { s = s * 1664525u + 1013904223u; in[i] = s; }
    unsigned *din, *dout;
    unsigned long long* dwide;
    CHECK(hipMalloc(&din, n * sizeof(unsigned)));
    CHECK(hipMalloc(&dout, 2 * n * sizeof(unsigned)));
    CHECK(hipMalloc(&dwide, n * sizeof(unsigned long long)));
    hipStream_t stream;
    CHECK(hipStreamCreate(&stream));
    CHECK(hipMemcpyWithStream(din, in.data(), n * sizeof(unsigned), hipMemcpyHostToDevice, stream));

    hipEvent_t start, stop;
    CHECK(hipEventCreate(&start));
    CHECK(hipEventCreate(&stop));
    hipExtLaunchKernelGGL(fields, dim3(n / 256), dim3(256), 0, stream, nullptr, nullptr, 0, din, dout, dwide, n);
    CHECK(hipGetLastError());
    hipExtLaunchKernelGGL(fields, dim3(n / 256), dim3(256), 0, stream, start, stop, 0, din, dout, dwide, n);
    CHECK(hipGetLastError());
    CHECK(hipEventSynchronize(stop));
    float ms = -1.0f;
    CHECK(hipEventElapsedTime(&ms, start, stop));
    ok = ok && ms >= 0.0f;

    CHECK(hipMemcpyWithStream(out.data(), dout, 2 * n * sizeof(unsigned), hipMemcpyDeviceToHost, stream));
    CHECK(hipMemcpyWithStream(wide.data(), dwide, n * sizeof(unsigned long long), hipMemcpyDeviceToHost, stream));
    for (int i = 0; i < n; ++i) {
        unsigned v = in[i], at = i % 17, bits = (i / 17) % 16;
        ok = ok && out[2 * i] == extract32(v, at, bits) && out[2 * i + 1] == insert32(v, ~v, at, bits);
        ok = ok && wide[i] == extract64(((unsigned long long)v << 32) | ~v, at + 3, bits + 20);
    }
    int* dlanes;
    CHECK(hipMalloc(&dlanes, 256 * sizeof(int)));
    hipLaunchKernelGGL(lanes, dim3(1), dim3(256), 0, 0, dlanes);
    std::vector<int> lane_ok(256, 0);
    CHECK(hipMemcpy(lane_ok.data(), dlanes, 256 * sizeof(int), hipMemcpyDeviceToHost));
    for (int v : lane_ok) ok = ok && v == 1;
    CHECK(hipFree(dlanes));
    CHECK(hipEventDestroy(start));
    CHECK(hipEventDestroy(stop));
    CHECK(hipStreamDestroy(stream));
    CHECK(hipFree(din));
    CHECK(hipFree(dout));
    CHECK(hipFree(dwide));
    return finish(ok, "ext_launch_bits");
}
