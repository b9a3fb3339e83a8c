// Warp-level reductions, broadcasts and scans with every shuffle flavour.
#include <hip/hip_runtime.h>

#define FULL_MASK 0xffffffff

__device__ __forceinline__ float warp_reduce_sum(float v) {
  for (int offset = warpSize / 2; offset > 0; offset /= 2)
    v += __shfl_down(v, offset);
  return v;
}

__device__ __forceinline__ float warp_all_max(float v) {
  for (int mask = warpSize / 2; mask > 0; mask >>= 1)
    v = fmaxf(v, __shfl_xor(v, mask));
  return v;
}

__device__ __forceinline__ int warp_inclusive_scan(int v) {
  int lane = threadIdx.x % warpSize;
  for (int d = 1; d < warpSize; d *= 2) {
    int up = __shfl_up(v, d);
    if (lane >= d) v += up;
  }
  return v;
}

__global__ void row_sums(const float* __restrict__ m, float* __restrict__ sums, int rows, int cols) {
  int warps_per_block = blockDim.x / warpSize;
  int row = blockIdx.x * warps_per_block + threadIdx.x / warpSize;
  int lane = threadIdx.x % warpSize;
  if (row >= rows) return;
  float acc = 0.0f;
  for (int c = lane; c < cols; c += warpSize) acc += m[row * cols + c];
  acc = warp_reduce_sum(acc);
  float first = __shfl(acc, 0);
  if (lane == 0) sums[row] = first;
}

__global__ void max_and_scan(const float* x, float* mx, int* prefix, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  float v = i < n ? x[i] : -1e30f;
  v = warp_all_max(v);
  int s = warp_inclusive_scan(i < n ? 1 : 0);
  if (i < n) {
    mx[i] = v;
    prefix[i] = s;
  }
}
