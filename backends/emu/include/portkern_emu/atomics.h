// Atomics. Blocks run in parallel on CPU threads, so these are real atomic read-modify-writes
// (sequentially consistent); the _block/_system scope variants behave the same.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace portkern_emu {
namespace detail {

template <class T, class F>
inline T atomic_update(T* address, F update) {
  static_assert(sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8, "atomic on an unsupported size");
  using Bits = std::conditional_t<sizeof(T) == 8, std::uint64_t,
                                  std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint16_t>>;
  Bits* bits = reinterpret_cast<Bits*>(address);
  Bits expected = __atomic_load_n(bits, __ATOMIC_RELAXED);
  for (;;) {
    T old;
    std::memcpy(&old, &expected, sizeof(T));
    T next = update(old);
    Bits desired;
    std::memcpy(&desired, &next, sizeof(T));
    if (__atomic_compare_exchange_n(bits, &expected, desired, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return old;
  }
}

}  // namespace detail
}  // namespace portkern_emu

#define PORTKERN_EMU_ATOMIC_INT(T)                                                                         \
  inline T atomicAdd(T* a, T v) { return __atomic_fetch_add(a, v, __ATOMIC_SEQ_CST); }                   \
  inline T atomicSub(T* a, T v) { return __atomic_fetch_sub(a, v, __ATOMIC_SEQ_CST); }                   \
  inline T atomicAnd(T* a, T v) { return __atomic_fetch_and(a, v, __ATOMIC_SEQ_CST); }                   \
  inline T atomicOr(T* a, T v) { return __atomic_fetch_or(a, v, __ATOMIC_SEQ_CST); }                     \
  inline T atomicXor(T* a, T v) { return __atomic_fetch_xor(a, v, __ATOMIC_SEQ_CST); }                   \
  inline T atomicExch(T* a, T v) { return __atomic_exchange_n(a, v, __ATOMIC_SEQ_CST); }                 \
  inline T atomicCAS(T* a, T compare, T v) {                                                             \
    __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);              \
    return compare;                                                                                      \
  }                                                                                                      \
  inline T atomicMin(T* a, T v) {                                                                        \
    return ::portkern_emu::detail::atomic_update(a, [v](T o) { return v < o ? v : o; });                 \
  }                                                                                                      \
  inline T atomicMax(T* a, T v) {                                                                        \
    return ::portkern_emu::detail::atomic_update(a, [v](T o) { return v > o ? v : o; });                 \
  }

PORTKERN_EMU_ATOMIC_INT(int)
PORTKERN_EMU_ATOMIC_INT(unsigned int)
PORTKERN_EMU_ATOMIC_INT(long long)
PORTKERN_EMU_ATOMIC_INT(unsigned long long)
PORTKERN_EMU_ATOMIC_INT(unsigned long)
#undef PORTKERN_EMU_ATOMIC_INT

#define PORTKERN_EMU_ATOMIC_FLOAT(T)                                                                        \
  inline T atomicAdd(T* a, T v) { return ::portkern_emu::detail::atomic_update(a, [v](T o) { return T(o + v); }); } \
  inline T atomicSub(T* a, T v) { return ::portkern_emu::detail::atomic_update(a, [v](T o) { return T(o - v); }); } \
  inline T atomicExch(T* a, T v) { return ::portkern_emu::detail::atomic_update(a, [v](T) { return v; }); }      \
  inline T atomicMin(T* a, T v) { return ::portkern_emu::detail::atomic_update(a, [v](T o) { return v < o ? v : o; }); } \
  inline T atomicMax(T* a, T v) { return ::portkern_emu::detail::atomic_update(a, [v](T o) { return v > o ? v : o; }); }

PORTKERN_EMU_ATOMIC_FLOAT(float)
PORTKERN_EMU_ATOMIC_FLOAT(double)
#undef PORTKERN_EMU_ATOMIC_FLOAT

inline unsigned short atomicCAS(unsigned short* a, unsigned short compare, unsigned short v) {
  __atomic_compare_exchange_n(a, &compare, v, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
  return compare;
}
// CUDA semantics: inc wraps to 0 past `limit`, dec wraps to `limit` at 0 or above it.
inline unsigned int atomicInc(unsigned int* a, unsigned int limit) {
  return ::portkern_emu::detail::atomic_update(a, [limit](unsigned int o) { return o >= limit ? 0u : o + 1u; });
}
inline unsigned int atomicDec(unsigned int* a, unsigned int limit) {
  return ::portkern_emu::detail::atomic_update(
      a, [limit](unsigned int o) { return (o == 0u || o > limit) ? limit : o - 1u; });
}

// Scoped and no-return variants (CUDA sm_60+, HIP).
#define PORTKERN_EMU_ATOMIC_SCOPED(OP)                                                     \
  template <class T, class U> inline T OP##_block(T* a, U v) { return OP(a, T(v)); }      \
  template <class T, class U> inline T OP##_system(T* a, U v) { return OP(a, T(v)); }
PORTKERN_EMU_ATOMIC_SCOPED(atomicAdd)
PORTKERN_EMU_ATOMIC_SCOPED(atomicSub)
PORTKERN_EMU_ATOMIC_SCOPED(atomicExch)
PORTKERN_EMU_ATOMIC_SCOPED(atomicMin)
PORTKERN_EMU_ATOMIC_SCOPED(atomicMax)
PORTKERN_EMU_ATOMIC_SCOPED(atomicAnd)
PORTKERN_EMU_ATOMIC_SCOPED(atomicOr)
PORTKERN_EMU_ATOMIC_SCOPED(atomicXor)
#undef PORTKERN_EMU_ATOMIC_SCOPED
template <class T, class U> inline void atomicAddNoRet(T* a, U v) { atomicAdd(a, T(v)); }
template <class T, class U> inline T unsafeAtomicAdd(T* a, U v) { return atomicAdd(a, T(v)); }
template <class T, class U> inline T safeAtomicAdd(T* a, U v) { return atomicAdd(a, T(v)); }

inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }
