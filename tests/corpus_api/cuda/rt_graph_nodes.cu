#include <cuda_runtime.h>
__global__ void k(int* p) { p[0] = 1; }
int build(int* d) {
  cudaGraph_t g;
  cudaGraphCreate(&g, 0);
  cudaMemsetParams ms = {};
  ms.dst = d; ms.value = 0; ms.elementSize = 4; ms.width = 1; ms.height = 1;
  cudaGraphNode_t setNode, kernNode;
  cudaGraphAddMemsetNode(&setNode, g, nullptr, 0, &ms);
  void* args[] = {&d};
  cudaKernelNodeParams kp = {};
  kp.func = (void*)k; kp.gridDim = dim3(1); kp.blockDim = dim3(1); kp.kernelParams = args;
  cudaGraphAddKernelNode(&kernNode, g, &setNode, 1, &kp);
  size_t count = 0;
  cudaGraphGetNodes(g, nullptr, &count);
  cudaGraphNodeType type;
  cudaGraphNodeGetType(kernNode, &type);
  cudaGraphDestroy(g);
  return type == cudaGraphNodeTypeKernel ? (int)count : -1;
}
