// A kernel using a large dynamic shared-memory buffer; the host opts in and asks for occupancy.
#include <cstdio>
#include <hip/hip_runtime.h>

__global__ void stencil_1d(const float* in, float* out, int n, int radius) {
  extern __shared__ float tile[];
  int g = blockIdx.x * blockDim.x + threadIdx.x;
  int l = threadIdx.x + radius;
  tile[l] = g < n ? in[g] : 0.0f;
  if (threadIdx.x < radius) {
    tile[l - radius] = g >= radius ? in[g - radius] : 0.0f;
    tile[l + blockDim.x] = g + blockDim.x < n ? in[g + blockDim.x] : 0.0f;
  }
  __syncthreads();
  float acc = 0.0f;
  for (int k = -radius; k <= radius; ++k) acc += tile[l + k];
  if (g < n) out[g] = acc;
}

int launch_stencil(const float* in, float* out, int n, int radius, hipStream_t stream) {
  const int block = 256;
  size_t smem = (block + 2 * radius) * sizeof(float);
  hipFuncSetAttribute(reinterpret_cast<const void*>(stencil_1d), hipFuncAttributeMaxDynamicSharedMemorySize, 96 * 1024); // expect: large-dynamic-shared
  int blocks_per_sm = 0;
  hipOccupancyMaxActiveBlocksPerMultiprocessor(&blocks_per_sm, stencil_1d, block, smem);
  int min_grid = 0, best_block = 0;
  hipOccupancyMaxPotentialBlockSize(&min_grid, &best_block, stencil_1d, smem, 0);
  hipFuncAttributes attr;
  hipFuncGetAttributes(&attr, reinterpret_cast<const void*>(stencil_1d));
  printf("blocks/SM %d, suggested block %d, regs %d\n", blocks_per_sm, best_block, attr.numRegs);
  stencil_1d<<<(n + block - 1) / block, block, smem, stream>>>(in, out, n, radius);
  return hipGetLastError() == hipSuccess ? 0 : 1;
}
