// The host-side runtime API that library sources use around their kernels (hipLaunchKernelGGL,
// hipMalloc, hipMemcpy, ... and the CUDA spellings), over host memory. It lets whole library files
// with launcher functions compile and run on the emulator; kernels themselves never call it.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <tuple>

#include "launch.h"

enum portkern_emu_error_t { portkern_emu_success = 0, portkern_emu_error_launch = 719, portkern_emu_error_oom = 2 };
using hipError_t = portkern_emu_error_t;
using cudaError_t = portkern_emu_error_t;
#define hipSuccess portkern_emu_success
#define cudaSuccess portkern_emu_success
#define hipErrorLaunchFailure portkern_emu_error_launch
#define cudaErrorLaunchFailure portkern_emu_error_launch
#define hipErrorOutOfMemory portkern_emu_error_oom
#define cudaErrorMemoryAllocation portkern_emu_error_oom

struct portkern_emu_stream {};
using hipStream_t = portkern_emu_stream*;
using cudaStream_t = portkern_emu_stream*;
enum portkern_emu_memcpy_kind { portkern_emu_memcpy_default = 0 };
using hipMemcpyKind = int;
using cudaMemcpyKind = int;
#define hipMemcpyHostToHost 0
#define hipMemcpyHostToDevice 1
#define hipMemcpyDeviceToHost 2
#define hipMemcpyDeviceToDevice 3
#define hipMemcpyDefault 4
#define cudaMemcpyHostToHost 0
#define cudaMemcpyHostToDevice 1
#define cudaMemcpyDeviceToHost 2
#define cudaMemcpyDeviceToDevice 3
#define cudaMemcpyDefault 4

namespace portkern_emu {
namespace host {
inline thread_local portkern_emu_error_t last_error = portkern_emu_success;
inline thread_local std::string last_message;
}  // namespace host

template <class... P, class... A>
inline void launch_host(void (*fn)(P...), dim3 grid, dim3 block, std::size_t shared_bytes, const char* name,
                        A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong number of arguments");
  const std::string e = detail::launch(fn, std::tuple<std::decay_t<P>...>(static_cast<std::decay_t<P>>(args)...),
                                       name, grid, block, shared_bytes);
  if (!e.empty()) {
    host::last_error = portkern_emu_error_launch;
    host::last_message = e;
    std::fprintf(stderr, "portkern emulator: %s\n", e.c_str());
  }
}
}  // namespace portkern_emu

#define hipLaunchKernelGGL(kernel, grid, block, shared, stream, ...) \
  ::portkern_emu::launch_host((kernel), dim3(grid), dim3(block), std::size_t(shared), #kernel, ##__VA_ARGS__)

inline portkern_emu_error_t portkern_emu_malloc(void** p, std::size_t n) {
  *p = std::malloc(n ? n : 1);
  return *p ? portkern_emu_success : portkern_emu_error_oom;
}
template <class T> inline hipError_t hipMalloc(T** p, std::size_t n) { return portkern_emu_malloc(reinterpret_cast<void**>(p), n); }
template <class T> inline cudaError_t cudaMalloc(T** p, std::size_t n) { return portkern_emu_malloc(reinterpret_cast<void**>(p), n); }
inline hipError_t hipFree(void* p) { std::free(p); return hipSuccess; }
inline cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
inline hipError_t hipMemcpy(void* d, const void* s, std::size_t n, int) { std::memmove(d, s, n); return hipSuccess; }
inline cudaError_t cudaMemcpy(void* d, const void* s, std::size_t n, int) { std::memmove(d, s, n); return cudaSuccess; }
inline hipError_t hipMemcpyAsync(void* d, const void* s, std::size_t n, int, hipStream_t = nullptr) { std::memmove(d, s, n); return hipSuccess; }
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, std::size_t n, int, cudaStream_t = nullptr) { std::memmove(d, s, n); return cudaSuccess; }
inline hipError_t hipMemset(void* d, int v, std::size_t n) { std::memset(d, v, n); return hipSuccess; }
inline cudaError_t cudaMemset(void* d, int v, std::size_t n) { std::memset(d, v, n); return cudaSuccess; }
inline hipError_t hipMemsetAsync(void* d, int v, std::size_t n, hipStream_t = nullptr) { std::memset(d, v, n); return hipSuccess; }
inline cudaError_t cudaMemsetAsync(void* d, int v, std::size_t n, cudaStream_t = nullptr) { std::memset(d, v, n); return cudaSuccess; }
inline hipError_t hipDeviceSynchronize() { return hipSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
inline hipError_t hipStreamSynchronize(hipStream_t) { return hipSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline hipError_t hipStreamCreate(hipStream_t* s) { *s = nullptr; return hipSuccess; }
inline cudaError_t cudaStreamCreate(cudaStream_t* s) { *s = nullptr; return cudaSuccess; }
inline hipError_t hipStreamDestroy(hipStream_t) { return hipSuccess; }
inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
inline portkern_emu_error_t portkern_emu_take_error() {
  const auto e = ::portkern_emu::host::last_error;
  ::portkern_emu::host::last_error = portkern_emu_success;
  return e;
}
inline hipError_t hipGetLastError() { return portkern_emu_take_error(); }
inline cudaError_t cudaGetLastError() { return portkern_emu_take_error(); }
inline hipError_t hipPeekAtLastError() { return ::portkern_emu::host::last_error; }
inline cudaError_t cudaPeekAtLastError() { return ::portkern_emu::host::last_error; }
inline const char* hipGetErrorString(portkern_emu_error_t e) {
  return e == portkern_emu_success ? "success" : ::portkern_emu::host::last_message.c_str();
}
inline const char* cudaGetErrorString(portkern_emu_error_t e) { return hipGetErrorString(e); }
inline const char* hipGetErrorName(portkern_emu_error_t e) { return e == portkern_emu_success ? "hipSuccess" : "hipErrorLaunchFailure"; }
inline const char* cudaGetErrorName(portkern_emu_error_t e) { return e == portkern_emu_success ? "cudaSuccess" : "cudaErrorLaunchFailure"; }

// `kernel<<<grid, block, shared, stream>>>(args...)` is rewritten by the Python side into
// `::portkern_emu::chevron(kernel, grid, block, shared, stream)(args...)`.
namespace portkern_emu {
template <class... P>
struct ChevronLaunch {
  void (*fn)(P...);
  dim3 grid, block;
  std::size_t shared_bytes;
  const char* name;
  template <class... A>
  void operator()(A&&... args) const {
    launch_host(fn, grid, block, shared_bytes, name, std::forward<A>(args)...);
  }
};
template <class... P, class G, class B>
inline ChevronLaunch<P...> chevron(void (*fn)(P...), const char* name, G grid, B block, std::size_t shared = 0,
                                   const void* = nullptr) {
  return ChevronLaunch<P...>{fn, dim3(grid), dim3(block), shared, name};
}
}  // namespace portkern_emu
