// Capture a stream into a graph and replay it.
#include <cuda_runtime.h>
__global__ void inc(float* x) { x[threadIdx.x] += 1.0f; }
void replay(float* d, cudaStream_t s, int times) {
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal);
  inc<<<1, 64, 0, s>>>(d);
  cudaStreamEndCapture(s, &graph);
  cudaGraphInstantiate(&exec, graph, 0);
  for (int i = 0; i < times; ++i) cudaGraphLaunch(exec, s);
  cudaStreamSynchronize(s);
  cudaGraphExecDestroy(exec);
  cudaGraphDestroy(graph);
}
