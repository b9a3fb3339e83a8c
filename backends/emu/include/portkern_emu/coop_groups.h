// A subset of cooperative_groups: thread_block, thread_block_tile<N> (tiled_partition), their
// shuffles and votes, and cg::reduce with plus/less/greater/bit ops. Grid-wide sync is not
// emulated (blocks do not all run at once here).
#pragma once

#include "warp.h"

namespace cooperative_groups {

class thread_block {
 public:
  static void sync(int site = __builtin_LINE()) { (void)site; __syncthreads(); }
  static unsigned thread_rank() { return ::portkern_emu::detail::tls_worker->tid; }
  static unsigned size() { return blockDim.x * blockDim.y * blockDim.z; }
  static unsigned num_threads() { return size(); }
  static dim3 group_index() { return blockIdx; }
  static dim3 thread_index() { return threadIdx; }
  static dim3 group_dim() { return blockDim; }
  static dim3 dim_threads() { return blockDim; }
};

inline thread_block this_thread_block() { return thread_block(); }
inline void sync(const thread_block&) { __syncthreads(); }

template <unsigned N>
class thread_block_tile {
  static_assert(N > 0 && N <= 64 && (N & (N - 1)) == 0, "tile size must be a power of two up to 64");

 public:
  static constexpr unsigned num_threads_v = N;
  thread_block_tile() {
    if (N > unsigned(::portkern_emu::kWave)) {
      std::fprintf(stderr, "portkern emulator: thread_block_tile<%u> is wider than the wavefront (%d)\n", N,
                   ::portkern_emu::kWave);
      std::abort();
    }
  }
  static unsigned thread_rank() { return __lane_id() % N; }
  static unsigned size() { return N; }
  static unsigned num_threads() { return N; }
  static unsigned meta_group_rank() { return ::portkern_emu::detail::tls_worker->tid / N; }
  static unsigned meta_group_size() { return (thread_block::size() + N - 1) / N; }
  static void sync(int site = __builtin_LINE()) { __syncwarp(tile_mask(), site); }
  template <class T> T shfl(T v, int src, int site = __builtin_LINE()) const {
    return __shfl_sync(tile_mask(), v, src, int(N), site);
  }
  template <class T> T shfl_down(T v, unsigned d, int site = __builtin_LINE()) const {
    return __shfl_down_sync(tile_mask(), v, d, int(N), site);
  }
  template <class T> T shfl_up(T v, unsigned d, int site = __builtin_LINE()) const {
    return __shfl_up_sync(tile_mask(), v, d, int(N), site);
  }
  template <class T> T shfl_xor(T v, int m, int site = __builtin_LINE()) const {
    return __shfl_xor_sync(tile_mask(), v, m, int(N), site);
  }
  unsigned long long ballot(int pred, int site = __builtin_LINE()) const {
    const unsigned long long all = static_cast<unsigned long long>(__ballot_sync(~0ull, pred, site));
    return (all >> tile_base()) & low_bits();
  }
  int any(int pred, int site = __builtin_LINE()) const { return ballot(pred, site) != 0; }
  int all(int pred, int site = __builtin_LINE()) const { return ballot(pred, site) == low_bits(); }

 private:
  static unsigned tile_base() { return __lane_id() / N * N; }
  static unsigned long long low_bits() { return N == 64 ? ~0ull : (1ull << N) - 1ull; }
  static unsigned long long tile_mask() { return low_bits() << tile_base(); }
};

template <unsigned N, class Parent>
inline thread_block_tile<N> tiled_partition(const Parent&) {
  return thread_block_tile<N>();
}
template <unsigned N>
inline void sync(const thread_block_tile<N>& t) {
  t.sync();
}

template <class T> struct plus { T operator()(T a, T b) const { return a + b; } };
template <class T> struct less { T operator()(T a, T b) const { return b < a ? b : a; } };
template <class T> struct greater { T operator()(T a, T b) const { return a < b ? b : a; } };
template <class T> struct bit_and { T operator()(T a, T b) const { return a & b; } };
template <class T> struct bit_or { T operator()(T a, T b) const { return a | b; } };
template <class T> struct bit_xor { T operator()(T a, T b) const { return a ^ b; } };

template <unsigned N, class T, class Op>
inline T reduce(const thread_block_tile<N>& tile, T value, Op op, int site = __builtin_LINE()) {
  for (unsigned offset = N / 2; offset > 0; offset /= 2) value = op(value, tile.shfl_xor(value, int(offset), site));
  return value;
}
template <unsigned N, class T, class Op>
inline T inclusive_scan(const thread_block_tile<N>& tile, T value, Op op, int site = __builtin_LINE()) {
  for (unsigned offset = 1; offset < N; offset *= 2) {
    T other = tile.shfl_up(value, offset, site);
    if (tile.thread_rank() >= offset) value = op(value, other);
  }
  return value;
}
template <unsigned N, class T>
inline T inclusive_scan(const thread_block_tile<N>& tile, T value) {
  return inclusive_scan(tile, value, plus<T>());
}

}  // namespace cooperative_groups
