// portkern CPU emulator: compile-time configuration and the CUDA/HIP qualifiers.
#pragma once

#ifndef PORTKERN_EMU_WAVE
#define PORTKERN_EMU_WAVE 32
#endif
#if PORTKERN_EMU_WAVE != 32 && PORTKERN_EMU_WAVE != 64
#error "PORTKERN_EMU_WAVE must be 32 or 64"
#endif

#define PORTKERN_EMU 1
// 1: `warpSize` is a constant expression (HIP's headers through ROCm 6); 0: a run-time value
// (CUDA). The backend sets it from the dialect the build's target compiles.
#ifndef PORTKERN_EMU_CONSTANT_WARPSIZE
#define PORTKERN_EMU_CONSTANT_WARPSIZE 0
#endif
// Real HIP device compilers expose the wavefront width as a macro; code that reads it gets ours.
#ifndef __AMDGCN_WAVEFRONT_SIZE
#define __AMDGCN_WAVEFRONT_SIZE PORTKERN_EMU_WAVE
#endif

#if defined(__SANITIZE_ADDRESS__)
#define PORTKERN_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PORTKERN_EMU_ASAN 1
#endif
#endif

// Device code is ordinary C++ on the CPU: execution-space qualifiers vanish.
#define __global__
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __forceinline__ inline __attribute__((always_inline))
// Defined after the standard headers (runtime.h includes them first): libstdc++ itself spells
// __attribute__((__noinline__)).
#define __noinline__ __attribute__((noinline))
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define __maxnreg__(n)
#define __grid_constant__
#define __device_builtin__
#define __cudart_builtin__
// Static shared memory: one instance per CPU worker thread. A block's fibers all run on one worker
// thread, so they share it, and blocks running at the same time on other workers do not.
#define __shared__ static thread_local
// Dynamic shared memory. `extern __shared__ T name[];` is rewritten by the Python side into this.
#define PORTKERN_EMU_DYNAMIC_SHARED(type, name) \
  type* const name = reinterpret_cast<type*>(::portkern_emu::detail::dynamic_shared())
#define HIP_DYNAMIC_SHARED(type, name) PORTKERN_EMU_DYNAMIC_SHARED(type, name)
#define HIP_DYNAMIC_SHARED_ATTRIBUTE
