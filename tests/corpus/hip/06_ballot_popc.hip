// Stream compaction helpers built on warp votes.
#include <hip/hip_runtime.h>

__global__ void count_matches(const int* keys, int key, int* counts, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int lane = threadIdx.x & (warpSize - 1); // expect: warp-size-literal
  bool hit = i < n && keys[i] == key;
  unsigned long long votes = __ballot(hit); // expect: ballot-width
  if (lane == 0) atomicAdd(counts, __popcll(votes)); // expect: popc-ballot
}

__global__ void compact(const float* in, float* out, int* out_count, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  int lane = threadIdx.x % warpSize; // expect: warp-size-literal
  bool keep = i < n && in[i] != 0.0f;
  unsigned long long active = __ballot(1); // expect: activemask, ballot-width
  unsigned long long keep_mask = (__ballot(keep) & (active)); // expect: ballot-width, partial-lane-mask
  int leader = __ffsll(keep_mask) - 1; // expect: popc-ballot
  int rank = __popcll(keep_mask & ((1ull << lane) - 1)); // expect: popc-ballot, lane-mask-shift
  int base = 0;
  if (lane == leader) base = atomicAdd(out_count, __popcll(keep_mask)); // expect: popc-ballot
  base = __shfl(base, leader); // expect: partial-lane-mask
  if (keep) out[base + rank] = in[i];
  if (__all(!keep) && lane == 0) out_count[1] = 1;
  if (__any(keep) && lane == 0) out_count[2] = 1;
}
