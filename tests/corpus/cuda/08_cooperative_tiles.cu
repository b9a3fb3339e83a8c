// Cooperative groups: block handles, tiles and tile-level reductions through tile shuffles.
#include <cooperative_groups.h>
#include <cuda_runtime.h>

namespace cg = cooperative_groups;

template <int TILE>
__device__ float tile_sum(cg::thread_block_tile<TILE> tile, float v) {
  for (int offset = tile.size() / 2; offset > 0; offset /= 2) v += tile.shfl_down(v, offset);
  return v;
}

__global__ void dot_tiles(const float* a, const float* b, float* out, int n) {
  cg::thread_block block = cg::this_thread_block();
  cg::thread_block_tile<16> tile16 = cg::tiled_partition<16>(block);
  int i = block.group_index().x * block.size() + block.thread_rank();
  float v = i < n ? a[i] * b[i] : 0.0f;
  float s = tile_sum<16>(tile16, v);
  if (tile16.thread_rank() == 0) atomicAdd(out, s);
  block.sync();
}

__global__ void tile_any(const int* flags, int* result, int n) {
  cg::thread_block block = cg::this_thread_block();
  auto tile = cg::tiled_partition<32>(block); // expect: cooperative-groups
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int f = i < n ? flags[i] : 0;
  if (tile.shfl(f, 0) && tile.thread_rank() == 0) atomicOr(result, 1);
  cg::sync(block);
}
