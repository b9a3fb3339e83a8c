// dim3 and the CUDA/HIP vector types (float2, int4, ...) with make_* helpers.
// Arithmetic operators are provided as HIP does; CUDA code simply does not use them.
#pragma once

#include <cstddef>


#define PORTKERN_EMU_VEC1(name, T, A)                                          \
  struct __attribute__((aligned(A))) name { T x; };                            \
  inline name make_##name(T x) { return name{x}; }
#define PORTKERN_EMU_VEC2(name, T, A)                                          \
  struct __attribute__((aligned(A))) name { T x, y; };                         \
  inline name make_##name(T x, T y) { return name{x, y}; }
#define PORTKERN_EMU_VEC3(name, T, A)                                          \
  struct __attribute__((aligned(A))) name { T x, y, z; };                      \
  inline name make_##name(T x, T y, T z) { return name{x, y, z}; }
#define PORTKERN_EMU_VEC4(name, T, A)                                          \
  struct __attribute__((aligned(A))) name { T x, y, z, w; };                   \
  inline name make_##name(T x, T y, T z, T w) { return name{x, y, z, w}; }

#define PORTKERN_EMU_VEC_FAMILY(base, T)                                       \
  PORTKERN_EMU_VEC1(base##1, T, sizeof(T))                                     \
  PORTKERN_EMU_VEC2(base##2, T, (2 * sizeof(T) > 16 ? 16 : 2 * sizeof(T)))     \
  PORTKERN_EMU_VEC3(base##3, T, sizeof(T))                                     \
  PORTKERN_EMU_VEC4(base##4, T, (4 * sizeof(T) > 16 ? 16 : 4 * sizeof(T)))

PORTKERN_EMU_VEC_FAMILY(char, signed char)
PORTKERN_EMU_VEC_FAMILY(uchar, unsigned char)
PORTKERN_EMU_VEC_FAMILY(short, short)
PORTKERN_EMU_VEC_FAMILY(ushort, unsigned short)
PORTKERN_EMU_VEC_FAMILY(int, int)
PORTKERN_EMU_VEC_FAMILY(uint, unsigned int)
PORTKERN_EMU_VEC_FAMILY(long, long)
PORTKERN_EMU_VEC_FAMILY(ulong, unsigned long)
PORTKERN_EMU_VEC_FAMILY(longlong, long long)
PORTKERN_EMU_VEC_FAMILY(ulonglong, unsigned long long)
PORTKERN_EMU_VEC_FAMILY(float, float)
PORTKERN_EMU_VEC_FAMILY(double, double)

// Elementwise operators (HIP's vector types have them).
#define PORTKERN_EMU_VEC_OPS2(V, T)                                                              \
  inline V operator+(V a, V b) { return V{static_cast<T>(a.x + b.x), static_cast<T>(a.y + b.y)}; }                         \
  inline V operator-(V a, V b) { return V{static_cast<T>(a.x - b.x), static_cast<T>(a.y - b.y)}; }                         \
  inline V operator*(V a, V b) { return V{static_cast<T>(a.x * b.x), static_cast<T>(a.y * b.y)}; }                         \
  inline V operator/(V a, V b) { return V{static_cast<T>(a.x / b.x), static_cast<T>(a.y / b.y)}; }                         \
  inline V operator*(V a, T s) { return V{static_cast<T>(a.x * s), static_cast<T>(a.y * s)}; }                             \
  inline V operator*(T s, V a) { return V{static_cast<T>(a.x * s), static_cast<T>(a.y * s)}; }                             \
  inline V& operator+=(V& a, V b) { a = a + b; return a; }                                       \
  inline V& operator-=(V& a, V b) { a = a - b; return a; }                                       \
  inline V& operator*=(V& a, V b) { a = a * b; return a; }                                       \
  inline bool operator==(V a, V b) { return a.x == b.x && a.y == b.y; }
#define PORTKERN_EMU_VEC_OPS4(V, T)                                                              \
  inline V operator+(V a, V b) { return V{static_cast<T>(a.x + b.x), static_cast<T>(a.y + b.y), static_cast<T>(a.z + b.z), static_cast<T>(a.w + b.w)}; } \
  inline V operator-(V a, V b) { return V{static_cast<T>(a.x - b.x), static_cast<T>(a.y - b.y), static_cast<T>(a.z - b.z), static_cast<T>(a.w - b.w)}; } \
  inline V operator*(V a, V b) { return V{static_cast<T>(a.x * b.x), static_cast<T>(a.y * b.y), static_cast<T>(a.z * b.z), static_cast<T>(a.w * b.w)}; } \
  inline V operator/(V a, V b) { return V{static_cast<T>(a.x / b.x), static_cast<T>(a.y / b.y), static_cast<T>(a.z / b.z), static_cast<T>(a.w / b.w)}; } \
  inline V operator*(V a, T s) { return V{static_cast<T>(a.x * s), static_cast<T>(a.y * s), static_cast<T>(a.z * s), static_cast<T>(a.w * s)}; }     \
  inline V operator*(T s, V a) { return a * s; }                                                 \
  inline V& operator+=(V& a, V b) { a = a + b; return a; }                                       \
  inline V& operator-=(V& a, V b) { a = a - b; return a; }                                       \
  inline V& operator*=(V& a, V b) { a = a * b; return a; }                                       \
  inline bool operator==(V a, V b) { return a.x == b.x && a.y == b.y && a.z == b.z && a.w == b.w; }

PORTKERN_EMU_VEC_OPS2(float2, float)
PORTKERN_EMU_VEC_OPS2(double2, double)
PORTKERN_EMU_VEC_OPS2(int2, int)
PORTKERN_EMU_VEC_OPS2(uint2, unsigned int)
PORTKERN_EMU_VEC_OPS4(float4, float)
PORTKERN_EMU_VEC_OPS4(double4, double)
PORTKERN_EMU_VEC_OPS4(int4, int)
PORTKERN_EMU_VEC_OPS4(uint4, unsigned int)

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};
