// Thrust containers and algorithms: fill, transform with a functor and a device lambda, sort, reduce.
#include <cuda_runtime.h>
#include <thrust/device_vector.h>
#include <thrust/host_vector.h>
#include <thrust/transform.h>
#include <thrust/reduce.h>
#include <thrust/sequence.h>
#include <thrust/sort.h>
#include <thrust/functional.h>
#include <thrust/execution_policy.h>

struct saxpy_functor {
  const float a;
  explicit saxpy_functor(float a_) : a(a_) {}
  __host__ __device__ float operator()(const float& x, const float& y) const { return a * x + y; }
};

__global__ void square_inplace(float* p, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] *= p[i];
}

float pipeline(int n, cudaStream_t stream) {
  thrust::device_vector<float> x(n), y(n, 1.0f);
  thrust::sequence(x.begin(), x.end());
  thrust::transform(x.begin(), x.end(), y.begin(), y.begin(), saxpy_functor(2.0f));
  thrust::transform(thrust::cuda::par.on(stream), y.begin(), y.end(), y.begin(),
                    [] __device__(float v) { return v * 0.5f; });
  float* raw = thrust::raw_pointer_cast(y.data());
  square_inplace<<<(n + 255) / 256, 256, 0, stream>>>(raw, n);
  cudaStreamSynchronize(stream);
  thrust::sort(thrust::device, y.begin(), y.end(), thrust::greater<float>());
  float total = thrust::reduce(y.begin(), y.end(), 0.0f, thrust::plus<float>());
  thrust::host_vector<float> h = y;
  return total + h[0];
}
