// Capture a stream into a graph and replay it.
#include <hip/hip_runtime.h>
__global__ void inc(float* x) { x[threadIdx.x] += 1.0f; }
void replay(float* d, hipStream_t s, int times) {
  hipGraph_t graph;
  hipGraphExec_t exec;
  hipStreamBeginCapture(s, hipStreamCaptureModeGlobal);
  inc<<<1, 64, 0, s>>>(d);
  hipStreamEndCapture(s, &graph);
  hipGraphInstantiateWithFlags(&exec, graph, 0);
  for (int i = 0; i < times; ++i) hipGraphLaunch(exec, s);
  hipStreamSynchronize(s);
  hipGraphExecDestroy(exec);
  hipGraphDestroy(graph);
}
