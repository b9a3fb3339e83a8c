// CUB device-wide reduction and scan with the two-phase temporary-storage idiom, and a block reduction.
#include <cuda_runtime.h>
#include <cub/cub.cuh>

template <int BLOCK>
__global__ void block_sums(const int* in, int* out, int n) {
  typedef cub::BlockReduce<int, BLOCK> BlockReduceT;
  __shared__ typename BlockReduceT::TempStorage temp;
  int i = blockIdx.x * BLOCK + threadIdx.x;
  int v = i < n ? in[i] : 0;
  int total = BlockReduceT(temp).Sum(v);
  if (threadIdx.x == 0) out[blockIdx.x] = total;
}

int device_sum(const float* d_in, float* d_out, int n, cudaStream_t stream) {
  void* d_temp = nullptr;
  size_t temp_bytes = 0;
  cub::DeviceReduce::Sum(d_temp, temp_bytes, d_in, d_out, n, stream);
  cudaMalloc(&d_temp, temp_bytes);
  cub::DeviceReduce::Sum(d_temp, temp_bytes, d_in, d_out, n, stream);
  cudaFree(d_temp);
  return 0;
}

int device_scan_max(const int* d_in, int* d_out, int* d_max, int n, cudaStream_t stream) {
  void* d_temp = nullptr;
  size_t bytes_scan = 0, bytes_max = 0;
  cub::DeviceScan::ExclusiveSum(nullptr, bytes_scan, d_in, d_out, n, stream);
  cub::DeviceReduce::Max(nullptr, bytes_max, d_in, d_max, n, stream);
  size_t bytes = bytes_scan > bytes_max ? bytes_scan : bytes_max;
  cudaMallocAsync(&d_temp, bytes, stream);
  cub::DeviceScan::ExclusiveSum(d_temp, bytes, d_in, d_out, n, stream);
  cub::DeviceReduce::Max(d_temp, bytes, d_in, d_max, n, stream);
  block_sums<256><<<(n + 255) / 256, 256, 0, stream>>>(d_in, d_out, n);
  cudaFreeAsync(d_temp, stream);
  return 0;
}
