// Vector addition with the usual host boilerplate: allocate, copy, launch, check, copy back.
#include <cstdio>
#include <cstdlib>
#include <vector>
#include <hip/hip_runtime.h>

#define CUDA_CHECK(call)                                                        \
  do {                                                                          \
    hipError_t err_ = (call);                                                  \
    if (err_ != hipSuccess) {                                                  \
      fprintf(stderr, "CUDA error %s at %s:%d: %s\n", hipGetErrorName(err_),   \
              __FILE__, __LINE__, hipGetErrorString(err_));                    \
      exit(EXIT_FAILURE);                                                       \
    }                                                                           \
  } while (0)

__global__ void vector_add(const float* __restrict__ a, const float* __restrict__ b,
                           float* __restrict__ c, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

int main() {
  const int n = 1 << 20;
  const size_t bytes = n * sizeof(float);
  std::vector<float> ha(n, 1.0f), hb(n, 2.0f), hc(n);
  float *da = nullptr, *db = nullptr, *dc = nullptr;
  CUDA_CHECK(hipMalloc(&da, bytes));
  CUDA_CHECK(hipMalloc(&db, bytes));
  CUDA_CHECK(hipMalloc((void**)&dc, bytes));
  CUDA_CHECK(hipMemcpy(da, ha.data(), bytes, hipMemcpyHostToDevice));
  CUDA_CHECK(hipMemcpy(db, hb.data(), bytes, hipMemcpyHostToDevice));
  const int threads = 256;
  const int blocks = (n + threads - 1) / threads;
  vector_add<<<blocks, threads>>>(da, db, dc, n);
  CUDA_CHECK(hipGetLastError());
  CUDA_CHECK(hipDeviceSynchronize());
  CUDA_CHECK(hipMemcpy(hc.data(), dc, bytes, hipMemcpyDeviceToHost));
  printf("c[0] = %f\n", hc[0]);
  CUDA_CHECK(hipFree(da));
  CUDA_CHECK(hipFree(db));
  CUDA_CHECK(hipFree(dc));
  return 0;
}
