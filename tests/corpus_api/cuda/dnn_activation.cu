#include <cudnn.h>
int relu(cudnnHandle_t h, cudaStream_t s, const float* x, float* y, int n, int c, int hh, int w) {
  cudnnSetStream(h, s);
  cudnnTensorDescriptor_t t;
  cudnnCreateTensorDescriptor(&t);
  cudnnActivationDescriptor_t act;
  cudnnCreateActivationDescriptor(&act);
  const float one = 1.0f, zero = 0.0f;
  cudnnStatus_t st = cudnnActivationForward(h, act, &one, t, x, &zero, t, y);
  cudnnDestroyActivationDescriptor(act);
  cudnnDestroyTensorDescriptor(t);
  return st == CUDNN_STATUS_SUCCESS ? 0 : 1;
}
