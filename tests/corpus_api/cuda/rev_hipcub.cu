#include <cub/cub.cuh>
#include <cub/util_type.cuh>
#include <cub/block/block_reduce.cuh>
template <int BLOCK>
__global__ void block_max(const int* in, int* out) {
  typedef cub::BlockReduce<int, BLOCK> Reduce;
  __shared__ typename Reduce::TempStorage tmp;
  int v = Reduce(tmp).Reduce(in[blockIdx.x * BLOCK + threadIdx.x], cuda::maximum<>());
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}
void device_min(const int* in, int* out, int n, void* tmp, size_t& bytes) {
  cub::DeviceReduce::Reduce(tmp, bytes, in, out, n, cuda::minimum<>(), 0);
}
