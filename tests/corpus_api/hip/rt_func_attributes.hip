#include <hip/hip_runtime.h>
__global__ void work(float* x) { x[threadIdx.x] *= 2.0f; }
int regs() {
  hipFuncAttributes a;
  hipFuncGetAttributes(&a, reinterpret_cast<const void*>(work));
  int minGrid = 0, block = 0;
  hipOccupancyMaxPotentialBlockSize(&minGrid, &block, work, 0, 0);
  return a.numRegs + block;
}
