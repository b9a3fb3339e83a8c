#include <hipcub/hipcub.hpp>
#include <hipcub/util_type.hpp>
#include <hipcub/block/block_reduce.hpp>
template <int BLOCK>
__global__ void block_max(const int* in, int* out) {
  typedef hipcub::BlockReduce<int, BLOCK> Reduce;
  __shared__ typename Reduce::TempStorage tmp;
  int v = Reduce(tmp).Reduce(in[blockIdx.x * BLOCK + threadIdx.x], hipcub::Max());
  if (threadIdx.x == 0) out[blockIdx.x] = v;
}
void device_min(const int* in, int* out, int n, void* tmp, size_t& bytes) {
  hipcub::DeviceReduce::Reduce(tmp, bytes, in, out, n, hipcub::Min(), 0);
}
