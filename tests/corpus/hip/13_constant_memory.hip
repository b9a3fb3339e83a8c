// 1-D convolution with the filter in constant memory, uploaded with hipMemcpyToSymbol.
#include <cstdio>
#include <hip/hip_runtime.h>

#define MAX_TAPS 64

__constant__ float c_taps[MAX_TAPS];
__constant__ int c_num_taps;
__device__ int d_calls;

__global__ void convolve(const float* __restrict__ in, float* __restrict__ out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float acc = 0.0f;
  int half = c_num_taps / 2;
  for (int t = 0; t < c_num_taps; ++t) {
    int j = i + t - half;
    if (j >= 0 && j < n) acc += c_taps[t] * in[j];
  }
  out[i] = acc;
  if (i == 0) atomicAdd(&d_calls, 1);
}

int set_filter(const float* taps, int count, hipStream_t stream) {
  if (count > MAX_TAPS) return -1;
  hipError_t e = hipMemcpyToSymbol(HIP_SYMBOL(c_taps), taps, count * sizeof(float));
  if (e != hipSuccess) { printf("%s\n", hipGetErrorString(e)); return -1; }
  hipMemcpyToSymbolAsync(HIP_SYMBOL(c_num_taps), &count, sizeof(int), 0, hipMemcpyHostToDevice, stream);
  return 0;
}

int calls() {
  int h = 0;
  hipMemcpyFromSymbol(&h, HIP_SYMBOL(d_calls), sizeof(int));
  void* addr = nullptr;
  hipGetSymbolAddress(&addr, HIP_SYMBOL(d_calls));
  return h;
}
