// Templated element-wise kernels with functors and lambdas, launched through project macros.
#include <cstdio>
#include <cuda_runtime.h>

#define CUDA_CHECK(expr) do { cudaError_t e_ = (expr); if (e_ != cudaSuccess) \
  printf("%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); } while (0)
#define LAUNCH_1D(kernel, n, stream, ...) \
  kernel<<<((n) + 255) / 256, 256, 0, (stream)>>>(__VA_ARGS__)
#define KERNEL_LOOP(i, n) \
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)

template <typename T, typename Op>
__global__ void map_kernel(const T* in, T* out, int n, Op op) {
  KERNEL_LOOP(i, n) { out[i] = op(in[i]); }
}

template <typename T>
struct Clamp {
  T lo, hi;
  __device__ T operator()(T v) const { return v < lo ? lo : (v > hi ? hi : v); }
};

template <typename T, int UNROLL>
__global__ void __launch_bounds__(256) copy_unrolled(const T* __restrict__ in, T* __restrict__ out, int n) {
  int base = (blockIdx.x * blockDim.x + threadIdx.x) * UNROLL;
#pragma unroll
  for (int u = 0; u < UNROLL; ++u)
    if (base + u < n) out[base + u] = in[base + u];
}

template <typename T>
void clamp_and_scale(const T* in, T* tmp, T* out, int n, T scale, cudaStream_t s) {
  LAUNCH_1D(map_kernel, n, s, in, tmp, n, Clamp<T>{T(0), T(1)});
  auto scaler = [scale] __device__(T v) { return v * scale; };
  map_kernel<<<(n + 255) / 256, 256, 0, s>>>(tmp, out, n, scaler);
  copy_unrolled<T, 4><<<(n / 4 + 255) / 256, 256, 0, s>>>(out, tmp, n);
  CUDA_CHECK(cudaGetLastError());
  CUDA_CHECK(cudaStreamSynchronize(s));
}

template void clamp_and_scale<float>(const float*, float*, float*, int, float, cudaStream_t);
template void clamp_and_scale<double>(const double*, double*, double*, int, double, cudaStream_t);
