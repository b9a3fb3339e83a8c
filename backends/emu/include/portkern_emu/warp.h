// Warp (wavefront) operations: shuffles, votes, ballot, __syncwarp, match, reduce.
// Each is a rendezvous of the warp's lanes (see scheduler.h). `site` defaults to the caller's line
// so lanes at different operations of a diverged warp are told apart.
#pragma once

#include <cstring>
#include <type_traits>

#include "scheduler.h"

namespace portkern_emu {
namespace detail {

template <class T>
inline T warp_shuffle(std::uint8_t op, unsigned long long mask, T var, int arg, int width, int site) {
  static_assert(sizeof(T) <= 16 && std::is_trivially_copyable<T>::value,
                "warp shuffles move trivially copyable values of at most 16 bytes");
  std::uint64_t in[2] = {0, 0};
  std::memcpy(in, &var, sizeof(T));
  const std::uint64_t* out = warp_rendezvous(op, site, arg, width, mask, in[0], in[1]);
  T r;
  std::memcpy(&r, out, sizeof(T));
  return r;
}

inline lanemask_t full_mask() { return kWave == 64 ? lanemask_t(~0ull) : lanemask_t(0xffffffffu); }

}  // namespace detail
}  // namespace portkern_emu

#define PORTKERN_EMU_SHFL(NAME, OP, ARGT)                                                                 \
  template <class T>                                                                                     \
  inline T NAME(T var, ARGT arg, int width = warpSize, int site = __builtin_LINE()) {                   \
    return ::portkern_emu::detail::warp_shuffle(::portkern_emu::detail::OP, ~0ull, var, int(arg), width, site); \
  }                                                                                                      \
  template <class T>                                                                                     \
  inline T NAME##_sync(unsigned long long mask, T var, ARGT arg, int width = warpSize,                 \
                       int site = __builtin_LINE()) {                                                    \
    return ::portkern_emu::detail::warp_shuffle(::portkern_emu::detail::OP, mask, var, int(arg), width, site); \
  }

PORTKERN_EMU_SHFL(__shfl, kShflIdx, int)
PORTKERN_EMU_SHFL(__shfl_up, kShflUp, unsigned int)
PORTKERN_EMU_SHFL(__shfl_down, kShflDown, unsigned int)
PORTKERN_EMU_SHFL(__shfl_xor, kShflXor, int)
#undef PORTKERN_EMU_SHFL

inline ::portkern_emu::lanemask_t __ballot_sync(unsigned long long mask, int pred, int site = __builtin_LINE()) {
  return ::portkern_emu::lanemask_t(
      ::portkern_emu::detail::warp_rendezvous(::portkern_emu::detail::kBallot, site, 0, 0, mask, pred != 0, 0)[0]);
}
inline ::portkern_emu::lanemask_t __ballot(int pred, int site = __builtin_LINE()) {
  return __ballot_sync(~0ull, pred, site);
}
inline int __any_sync(unsigned long long mask, int pred, int site = __builtin_LINE()) {
  return int(::portkern_emu::detail::warp_rendezvous(::portkern_emu::detail::kAny, site, 0, 0, mask, pred != 0, 0)[0]);
}
inline int __all_sync(unsigned long long mask, int pred, int site = __builtin_LINE()) {
  return int(::portkern_emu::detail::warp_rendezvous(::portkern_emu::detail::kAll, site, 0, 0, mask, pred != 0, 0)[0]);
}
inline int __any(int pred, int site = __builtin_LINE()) { return __any_sync(~0ull, pred, site); }
inline int __all(int pred, int site = __builtin_LINE()) { return __all_sync(~0ull, pred, site); }
inline int __uni_sync(unsigned long long mask, int pred, int site = __builtin_LINE()) {
  return __all_sync(mask, pred, site) || !__any_sync(mask, pred, site);
}
inline void __syncwarp(unsigned long long mask = ~0ull, int site = __builtin_LINE()) {
  ::portkern_emu::detail::warp_rendezvous(::portkern_emu::detail::kSyncWarp, site, 0, 0, mask, 0, 0);
}
inline ::portkern_emu::lanemask_t __activemask() { return ::portkern_emu::detail::active_lanes(); }

template <class T>
inline ::portkern_emu::lanemask_t __match_any_sync(unsigned long long mask, T value, int site = __builtin_LINE()) {
  std::uint64_t in[2] = {0, 0};
  std::memcpy(in, &value, sizeof(T) < 16 ? sizeof(T) : 16);
  return ::portkern_emu::lanemask_t(
      ::portkern_emu::detail::warp_rendezvous(::portkern_emu::detail::kMatchAny, site, 0, 0, mask, in[0], in[1])[0]);
}
template <class T>
inline ::portkern_emu::lanemask_t __match_all_sync(unsigned long long mask, T value, int* pred,
                                                   int site = __builtin_LINE()) {
  std::uint64_t in[2] = {0, 0};
  std::memcpy(in, &value, sizeof(T) < 16 ? sizeof(T) : 16);
  const std::uint64_t* r =
      ::portkern_emu::detail::warp_rendezvous(::portkern_emu::detail::kMatchAll, site, 0, 0, mask, in[0], in[1]);
  *pred = int(r[1]);
  return ::portkern_emu::lanemask_t(r[0]);
}

#define PORTKERN_EMU_REDUCE(NAME, T, OP)                                                                   \
  inline T NAME(unsigned long long mask, T value, int site = __builtin_LINE()) {                          \
    return T(std::uint32_t(::portkern_emu::detail::warp_rendezvous(::portkern_emu::detail::OP, site, 0, 0, mask, \
                                                                   std::uint32_t(value), 0)[0]));          \
  }
PORTKERN_EMU_REDUCE(__reduce_add_sync, int, kReduceAdd)
PORTKERN_EMU_REDUCE(__reduce_add_sync, unsigned, kReduceAddU)
PORTKERN_EMU_REDUCE(__reduce_min_sync, int, kReduceMin)
PORTKERN_EMU_REDUCE(__reduce_min_sync, unsigned, kReduceMinU)
PORTKERN_EMU_REDUCE(__reduce_max_sync, int, kReduceMax)
PORTKERN_EMU_REDUCE(__reduce_max_sync, unsigned, kReduceMaxU)
PORTKERN_EMU_REDUCE(__reduce_and_sync, unsigned, kReduceAnd)
PORTKERN_EMU_REDUCE(__reduce_or_sync, unsigned, kReduceOr)
PORTKERN_EMU_REDUCE(__reduce_xor_sync, unsigned, kReduceXor)
#undef PORTKERN_EMU_REDUCE

// HIP lane helpers.
inline unsigned __lane_id() { return ::portkern_emu::detail::lane_id(); }
inline unsigned long long __lanemask_lt() { return (1ull << __lane_id()) - 1ull; }
inline unsigned long long __lanemask_le() { return (__lane_id() == 63 ? ~0ull : (1ull << (__lane_id() + 1)) - 1ull); }
inline unsigned long long __lanemask_gt() { return ~__lanemask_le() & (::portkern_emu::kWave == 64 ? ~0ull : 0xffffffffull); }
inline unsigned long long __lanemask_ge() { return ~__lanemask_lt() & (::portkern_emu::kWave == 64 ? ~0ull : 0xffffffffull); }
inline unsigned long long __lanemask_eq() { return 1ull << __lane_id(); }
