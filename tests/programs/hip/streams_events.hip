#include "common.h"

__global__ void busy(float* x, int n, int reps)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        float v = x[i];
        for (int r = 0; r < reps; ++r) v = v * 0.999f + 0.001f;
        x[i] = v;
    }
}

int main()
{
    const int n = 1 << 20, parts = 4, chunk = n / parts;
    float* h = nullptr;
    CHECK(hipHostMalloc(&h, n * sizeof(float), hipHostMallocDefault));
    for (int i = 0; i < n; ++i) h[i] = 1.0f;
    float* d;
    CHECK(hipMalloc(&d, n * sizeof(float)));
    hipStream_t streams[parts];
    for (auto& s : streams) CHECK(hipStreamCreateWithFlags(&s, hipStreamNonBlocking));
    hipEvent_t start, stop;
    CHECK(hipEventCreate(&start));
    CHECK(hipEventCreate(&stop));
    CHECK(hipEventRecord(start, 0));
    for (int p = 0; p < parts; ++p) {
        float* hp = h + p * chunk;
        float* dp = d + p * chunk;
        CHECK(hipMemcpyAsync(dp, hp, chunk * sizeof(float), hipMemcpyHostToDevice, streams[p]));
        busy<<<chunk / 256, 256, 0, streams[p]>>>(dp, chunk, 10);
        CHECK(hipMemcpyAsync(hp, dp, chunk * sizeof(float), hipMemcpyDeviceToHost, streams[p]));
    }
    for (auto& s : streams) CHECK(hipStreamSynchronize(s));
    CHECK(hipEventRecord(stop, 0));
    CHECK(hipEventSynchronize(stop));
    float ms = 0.0f;
    CHECK(hipEventElapsedTime(&ms, start, stop));
    bool ok = ms > 0.0f;
    for (int i = 0; i < n; ++i) ok = ok && h[i] == 1.0f;
    for (auto& s : streams) CHECK(hipStreamDestroy(s));
    CHECK(hipEventDestroy(start)); CHECK(hipEventDestroy(stop));
    CHECK(hipHostFree(h)); CHECK(hipFree(d));
    return finish(ok, "streams_events");
}
