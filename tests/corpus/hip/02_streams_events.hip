// Overlapping copies and kernels over several streams; timing with events; pinned host memory.
#include <cstdio>
#include <hip/hip_runtime.h>

#define CHECK(x) { hipError_t e = (x); if (e != hipSuccess) { \
  printf("%s failed: %s\n", #x, hipGetErrorString(e)); return 1; } }

__global__ void scale(float* data, float alpha, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  for (; i < n; i += blockDim.x * gridDim.x) data[i] *= alpha;
}

int main() {
  const int kStreams = 4;
  const int n = 1 << 22;
  const int chunk = n / kStreams;
  float* host = nullptr;
  float* dev = nullptr;
  CHECK(hipHostMalloc((void**)&host, n * sizeof(float)));
  CHECK(hipHostMalloc((void**)&host, n * sizeof(float), hipHostMallocDefault));
  CHECK(hipMalloc(&dev, n * sizeof(float)));
  hipStream_t streams[kStreams];
  for (int s = 0; s < kStreams; ++s) CHECK(hipStreamCreateWithFlags(&streams[s], hipStreamNonBlocking));
  hipEvent_t start, stop;
  CHECK(hipEventCreate(&start));
  CHECK(hipEventCreateWithFlags(&stop, hipEventDefault));
  CHECK(hipEventRecord(start, 0));
  for (int s = 0; s < kStreams; ++s) {
    float* d = dev + s * chunk;
    float* h = host + s * chunk;
    hipMemcpyAsync(d, h, chunk * sizeof(float), hipMemcpyHostToDevice, streams[s]);
    scale<<<chunk / 256, 256, 0, streams[s]>>>(d, 2.0f, chunk);
    hipMemcpyAsync(h, d, chunk * sizeof(float), hipMemcpyDeviceToHost, streams[s]);
  }
  CHECK(hipEventRecord(stop, 0));
  CHECK(hipEventSynchronize(stop));
  float ms = 0.0f;
  CHECK(hipEventElapsedTime(&ms, start, stop));
  printf("elapsed %.3f ms\n", ms);
  for (int s = 0; s < kStreams; ++s) {
    CHECK(hipStreamSynchronize(streams[s]));
    CHECK(hipStreamDestroy(streams[s]));
  }
  hipEventDestroy(start);
  hipEventDestroy(stop);
  hipHostFree(host);
  hipFree(dev);
  return 0;
}
