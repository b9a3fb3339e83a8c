// Overlapping copies and kernels over several streams; timing with events; pinned host memory.
#include <cstdio>
#include <cuda_runtime.h>

#define CHECK(x) { cudaError_t e = (x); if (e != cudaSuccess) { \
  printf("%s failed: %s\n", #x, cudaGetErrorString(e)); return 1; } }

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
  CHECK(cudaMallocHost((void**)&host, n * sizeof(float)));
  CHECK(cudaHostAlloc((void**)&host, n * sizeof(float), cudaHostAllocDefault));
  CHECK(cudaMalloc(&dev, n * sizeof(float)));
  cudaStream_t streams[kStreams];
  for (int s = 0; s < kStreams; ++s) CHECK(cudaStreamCreateWithFlags(&streams[s], cudaStreamNonBlocking));
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreateWithFlags(&stop, cudaEventDefault));
  CHECK(cudaEventRecord(start, 0));
  for (int s = 0; s < kStreams; ++s) {
    float* d = dev + s * chunk;
    float* h = host + s * chunk;
    cudaMemcpyAsync(d, h, chunk * sizeof(float), cudaMemcpyHostToDevice, streams[s]);
    scale<<<chunk / 256, 256, 0, streams[s]>>>(d, 2.0f, chunk);
    cudaMemcpyAsync(h, d, chunk * sizeof(float), cudaMemcpyDeviceToHost, streams[s]);
  }
  CHECK(cudaEventRecord(stop, 0));
  CHECK(cudaEventSynchronize(stop));
  float ms = 0.0f;
  CHECK(cudaEventElapsedTime(&ms, start, stop));
  printf("elapsed %.3f ms\n", ms);
  for (int s = 0; s < kStreams; ++s) {
    CHECK(cudaStreamSynchronize(streams[s]));
    CHECK(cudaStreamDestroy(streams[s]));
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaFreeHost(host);
  cudaFree(dev);
  return 0;
}
