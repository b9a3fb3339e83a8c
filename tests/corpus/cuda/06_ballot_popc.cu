// Stream compaction helpers built on warp votes.
#include <cuda_runtime.h>

__global__ void count_matches(const int* keys, int key, int* counts, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int lane = threadIdx.x & 31; // expect: warp-size-literal
  bool hit = i < n && keys[i] == key;
  unsigned int votes = __ballot_sync(0xffffffff, hit); // expect: ballot-width
  if (lane == 0) atomicAdd(counts, __popc(votes)); // expect: popc-ballot
}

__global__ void compact(const float* in, float* out, int* out_count, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int lane = threadIdx.x % 32; // expect: warp-size-literal
  bool keep = i < n && in[i] != 0.0f;
  unsigned active = __activemask(); // expect: activemask, ballot-width
  unsigned keep_mask = __ballot_sync(active, keep); // expect: ballot-width, partial-lane-mask
  int leader = __ffs(keep_mask) - 1; // expect: popc-ballot
  int rank = __popc(keep_mask & ((1u << lane) - 1)); // expect: popc-ballot, lane-mask-shift
  int base = 0;
  if (lane == leader) base = atomicAdd(out_count, __popc(keep_mask)); // expect: popc-ballot
  base = __shfl_sync(active, base, leader); // expect: partial-lane-mask
  if (keep) out[base + rank] = in[i];
  if (__all_sync(0xffffffff, !keep) && lane == 0) out_count[1] = 1;
  if (__any_sync(0xffffffff, keep) && lane == 0) out_count[2] = 1;
}
