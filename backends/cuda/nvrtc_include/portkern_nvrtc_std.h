// Standard-library names for device code compiled with NVRTC, which has no host C/C++ headers.
// With libcu++ (cuda/std, from the CUDA toolkit or its wheels) on the include path, std:: is
// pointed at cuda::std; without it only the C-style names these headers define are available.
// Note: libcu++ defines int64_t as long long under NVRTC (nvcc's host <cstdint>: long), so kernels
// templated on int64_t get different mangled names than with nvcc; entries map through lowered names.
#pragma once
#if defined(__has_include)
#if __has_include(<cuda/std/cstdint>)
#define PORTKERN_NVRTC_HAVE_LIBCUDACXX 1
// Each stand-in header includes only its own cuda/std counterpart (libcu++ is slow to parse whole).
#include <cuda/std/cstdint>
#include <cuda/std/climits>
namespace std { using namespace ::cuda::std; }
#endif
#endif

#ifndef PORTKERN_NVRTC_HAVE_LIBCUDACXX
typedef signed char int8_t;
typedef short int16_t;
typedef int int32_t;
typedef long int64_t;                 // LP64, as the host's <cstdint> (same mangled names as nvcc)
typedef unsigned char uint8_t;
typedef unsigned short uint16_t;
typedef unsigned int uint32_t;
typedef unsigned long uint64_t;
typedef long intptr_t;
typedef unsigned long uintptr_t;
namespace std {
using ::int8_t; using ::int16_t; using ::int32_t; using ::int64_t;
using ::uint8_t; using ::uint16_t; using ::uint32_t; using ::uint64_t;
using ::intptr_t; using ::uintptr_t; using ::size_t;
}
#endif

// Integer limits (LP64 data model).
#ifndef CHAR_BIT
#define CHAR_BIT 8
#define SCHAR_MIN (-128)
#define SCHAR_MAX 127
#define UCHAR_MAX 255
#define CHAR_MIN SCHAR_MIN
#define CHAR_MAX SCHAR_MAX
#define SHRT_MIN (-32768)
#define SHRT_MAX 32767
#define USHRT_MAX 65535
#define INT_MIN (-2147483647 - 1)
#define INT_MAX 2147483647
#define UINT_MAX 4294967295U
#define LONG_MIN (-9223372036854775807L - 1)
#define LONG_MAX 9223372036854775807L
#define ULONG_MAX 18446744073709551615UL
#define LLONG_MIN (-9223372036854775807LL - 1)
#define LLONG_MAX 9223372036854775807LL
#define ULLONG_MAX 18446744073709551615ULL
#endif

// IEEE-754 binary32 / binary64 limits.
#ifndef FLT_MAX
#define FLT_RADIX 2
#define FLT_MANT_DIG 24
#define DBL_MANT_DIG 53
#define FLT_DIG 6
#define DBL_DIG 15
#define FLT_EPSILON 1.19209290e-7F
#define DBL_EPSILON 2.2204460492503131e-16
#define FLT_MIN 1.17549435e-38F
#define DBL_MIN 2.2250738585072014e-308
#define FLT_MAX 3.40282347e+38F
#define DBL_MAX 1.7976931348623157e+308
#define FLT_TRUE_MIN 1.40129846e-45F
#define DBL_TRUE_MIN 4.9406564584124654e-324
#endif
