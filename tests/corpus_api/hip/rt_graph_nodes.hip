#include <hip/hip_runtime.h>
__global__ void k(int* p) { p[0] = 1; }
int build(int* d) {
  hipGraph_t g;
  hipGraphCreate(&g, 0);
  hipMemsetParams ms = {};
  ms.dst = d; ms.value = 0; ms.elementSize = 4; ms.width = 1; ms.height = 1;
  hipGraphNode_t setNode, kernNode;
  hipGraphAddMemsetNode(&setNode, g, nullptr, 0, &ms);
  void* args[] = {&d};
  hipKernelNodeParams kp = {};
  kp.func = (void*)k; kp.gridDim = dim3(1); kp.blockDim = dim3(1); kp.kernelParams = args;
  hipGraphAddKernelNode(&kernNode, g, &setNode, 1, &kp);
  size_t count = 0;
  hipGraphGetNodes(g, nullptr, &count);
  hipGraphNodeType type;
  hipGraphNodeGetType(kernNode, &type);
  hipGraphDestroy(g);
  return type == hipGraphNodeTypeKernel ? (int)count : -1;
}
