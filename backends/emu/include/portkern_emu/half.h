// __half (IEEE binary16) and bfloat16 storage types with float arithmetic, plus the common
// conversion and arithmetic intrinsics. Conversions round to nearest even.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "types.h"

namespace portkern_emu {
namespace detail {

inline std::uint16_t float_to_half_bits(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000u;
  const std::uint32_t exp = (x >> 23) & 0xffu;
  std::uint32_t mant = x & 0x7fffffu;
  if (exp == 0xffu) return std::uint16_t(sign | 0x7c00u | (mant ? 0x200u | (mant >> 13) : 0u));
  const int e = int(exp) - 127 + 15;
  if (e >= 31) return std::uint16_t(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return std::uint16_t(sign);
    mant |= 0x800000u;
    const int shift = 14 - e;
    std::uint32_t h = mant >> shift;
    const std::uint32_t rem = mant & ((1u << shift) - 1u), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
    return std::uint16_t(sign | h);
  }
  std::uint32_t h = (std::uint32_t(e) << 10) | (mant >> 13);
  const std::uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;  // a carry into the exponent gives inf
  return std::uint16_t(sign | h);
}

inline float half_bits_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
  if (exp == 0x1fu) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while (!(mant & 0x400u));
      bits = sign | (std::uint32_t(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
    }
  } else {
    bits = sign | ((exp + 112u) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline std::uint16_t float_to_bf16_bits(float f) {
  std::uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((x >> 16) | 0x40u);  // quiet NaN
  x += 0x7fffu + ((x >> 16) & 1u);
  return std::uint16_t(x >> 16);
}
inline float bf16_bits_to_float(std::uint16_t h) {
  const std::uint32_t x = std::uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

}  // namespace detail
}  // namespace portkern_emu

#define PORTKERN_EMU_SMALL_FLOAT(NAME, TO_BITS, TO_FLOAT)                                           \
  struct NAME {                                                                                     \
    std::uint16_t __x;                                                                              \
    NAME() = default;                                                                               \
    NAME(float f) : __x(::portkern_emu::detail::TO_BITS(f)) {}                                      \
    NAME(double f) : __x(::portkern_emu::detail::TO_BITS(float(f))) {}                              \
    NAME(int v) : __x(::portkern_emu::detail::TO_BITS(float(v))) {}                                \
    NAME(unsigned v) : __x(::portkern_emu::detail::TO_BITS(float(v))) {}                           \
    NAME(long long v) : __x(::portkern_emu::detail::TO_BITS(float(v))) {}                          \
    operator float() const { return ::portkern_emu::detail::TO_FLOAT(__x); }                        \
    NAME& operator=(float f) { __x = ::portkern_emu::detail::TO_BITS(f); return *this; }            \
    NAME& operator+=(NAME o) { return *this = float(*this) + float(o); }                            \
    NAME& operator-=(NAME o) { return *this = float(*this) - float(o); }                            \
    NAME& operator*=(NAME o) { return *this = float(*this) * float(o); }                            \
    NAME& operator/=(NAME o) { return *this = float(*this) / float(o); }                            \
    static NAME from_bits(std::uint16_t b) { NAME h; h.__x = b; return h; }                         \
  };                                                                                                \
  inline NAME operator+(NAME a, NAME b) { return NAME(float(a) + float(b)); }                       \
  inline NAME operator-(NAME a, NAME b) { return NAME(float(a) - float(b)); }                       \
  inline NAME operator*(NAME a, NAME b) { return NAME(float(a) * float(b)); }                       \
  inline NAME operator/(NAME a, NAME b) { return NAME(float(a) / float(b)); }                       \
  inline NAME operator-(NAME a) { return NAME::from_bits(std::uint16_t(a.__x ^ 0x8000u)); }        \
  inline bool operator==(NAME a, NAME b) { return float(a) == float(b); }                           \
  inline bool operator!=(NAME a, NAME b) { return float(a) != float(b); }                           \
  inline bool operator<(NAME a, NAME b) { return float(a) < float(b); }                             \
  inline bool operator>(NAME a, NAME b) { return float(a) > float(b); }                             \
  inline bool operator<=(NAME a, NAME b) { return float(a) <= float(b); }                           \
  inline bool operator>=(NAME a, NAME b) { return float(a) >= float(b); }

PORTKERN_EMU_SMALL_FLOAT(__half, float_to_half_bits, half_bits_to_float)
PORTKERN_EMU_SMALL_FLOAT(__nv_bfloat16, float_to_bf16_bits, bf16_bits_to_float)
#undef PORTKERN_EMU_SMALL_FLOAT
using half = __half;
using __hip_bfloat16 = __nv_bfloat16;
using hip_bfloat16 = __nv_bfloat16;
using nv_bfloat16 = __nv_bfloat16;

struct __half2 {
  __half x, y;
};
struct __nv_bfloat162 {
  __nv_bfloat16 x, y;
};
using half2 = __half2;
using __hip_bfloat162 = __nv_bfloat162;
using nv_bfloat162 = __nv_bfloat162;

// ------------------------------------------------------------------ __half intrinsics
inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline __half __double2half(double f) { return __half(float(f)); }
inline float __half2float(__half h) { return float(h); }
inline __half __int2half_rn(int v) { return __half(float(v)); }
inline int __half2int_rz(__half h) { return int(float(h)); }
inline int __half2int_rn(__half h) { return int(nearbyintf(float(h))); }
inline short __half_as_short(__half h) { return short(h.__x); }
inline unsigned short __half_as_ushort(__half h) { return h.__x; }
inline __half __short_as_half(short v) { return __half::from_bits(std::uint16_t(v)); }
inline __half __ushort_as_half(unsigned short v) { return __half::from_bits(v); }
inline __half __hadd(__half a, __half b) { return a + b; }
inline __half __hsub(__half a, __half b) { return a - b; }
inline __half __hmul(__half a, __half b) { return a * b; }
inline __half __hdiv(__half a, __half b) { return a / b; }
inline __half __hfma(__half a, __half b, __half c) { return __half(fmaf(float(a), float(b), float(c))); }
inline __half __hneg(__half a) { return -a; }
inline __half __habs(__half a) { return __half::from_bits(std::uint16_t(a.__x & 0x7fffu)); }
inline __half __hmax(__half a, __half b) { return float(a) < float(b) ? b : a; }
inline __half __hmin(__half a, __half b) { return float(b) < float(a) ? b : a; }
inline bool __heq(__half a, __half b) { return a == b; }
inline bool __hne(__half a, __half b) { return a != b; }
inline bool __hlt(__half a, __half b) { return a < b; }
inline bool __hle(__half a, __half b) { return a <= b; }
inline bool __hgt(__half a, __half b) { return a > b; }
inline bool __hge(__half a, __half b) { return a >= b; }
inline bool __hisnan(__half a) { return (a.__x & 0x7fffu) > 0x7c00u; }
inline bool __hisinf(__half a) { return (a.__x & 0x7fffu) == 0x7c00u; }
inline __half hsqrt(__half a) { return __half(sqrtf(float(a))); }
inline __half hrsqrt(__half a) { return __half(1.0f / sqrtf(float(a))); }
inline __half hexp(__half a) { return __half(expf(float(a))); }
inline __half hlog(__half a) { return __half(logf(float(a))); }
inline __half __float2half_rz(float f) { return __half(f); }

inline __half2 __halves2half2(__half a, __half b) { return __half2{a, b}; }
inline __half2 __floats2half2_rn(float a, float b) { return __half2{__half(a), __half(b)}; }
inline __half2 __float2half2_rn(float a) { return __half2{__half(a), __half(a)}; }
inline __half2 __half2half2(__half a) { return __half2{a, a}; }
inline float2 __half22float2(__half2 h) { return float2{float(h.x), float(h.y)}; }
inline __half2 __float22half2_rn(float2 f) { return __half2{__half(f.x), __half(f.y)}; }
inline float __low2float(__half2 h) { return float(h.x); }
inline float __high2float(__half2 h) { return float(h.y); }
inline __half __low2half(__half2 h) { return h.x; }
inline __half __high2half(__half2 h) { return h.y; }
inline __half2 __hadd2(__half2 a, __half2 b) { return __half2{a.x + b.x, a.y + b.y}; }
inline __half2 __hsub2(__half2 a, __half2 b) { return __half2{a.x - b.x, a.y - b.y}; }
inline __half2 __hmul2(__half2 a, __half2 b) { return __half2{a.x * b.x, a.y * b.y}; }
inline __half2 __hfma2(__half2 a, __half2 b, __half2 c) { return __half2{__hfma(a.x, b.x, c.x), __hfma(a.y, b.y, c.y)}; }
inline __half2 operator+(__half2 a, __half2 b) { return __hadd2(a, b); }
inline __half2 operator*(__half2 a, __half2 b) { return __hmul2(a, b); }

// ------------------------------------------------------------------ bfloat16 intrinsics
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 h) { return float(h); }
inline __nv_bfloat16 __hadd(__nv_bfloat16 a, __nv_bfloat16 b) { return a + b; }
inline __nv_bfloat16 __hmul(__nv_bfloat16 a, __nv_bfloat16 b) { return a * b; }
inline __nv_bfloat16 __hsub(__nv_bfloat16 a, __nv_bfloat16 b) { return a - b; }
inline __nv_bfloat16 __hfma(__nv_bfloat16 a, __nv_bfloat16 b, __nv_bfloat16 c) {
  return __nv_bfloat16(fmaf(float(a), float(b), float(c)));
}
inline __nv_bfloat162 __floats2bfloat162_rn(float a, float b) { return __nv_bfloat162{__nv_bfloat16(a), __nv_bfloat16(b)}; }
inline float2 __bfloat1622float2(__nv_bfloat162 h) { return float2{float(h.x), float(h.y)}; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short v) { return __nv_bfloat16::from_bits(v); }
inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }

inline __half atomicAdd(__half* a, __half v) {
  auto* bits = reinterpret_cast<std::uint16_t*>(a);
  std::uint16_t expected = __atomic_load_n(bits, __ATOMIC_RELAXED);
  for (;;) {
    const __half old = __half::from_bits(expected);
    const std::uint16_t desired = (old + v).__x;
    if (__atomic_compare_exchange_n(bits, &expected, desired, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) return old;
  }
}
