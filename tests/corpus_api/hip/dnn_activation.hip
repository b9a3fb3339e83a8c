#include <cudnn.h>
int relu(hipdnnHandle_t h, hipStream_t s, const float* x, float* y, int n, int c, int hh, int w) {
  hipdnnSetStream(h, s);
  hipdnnTensorDescriptor_t t;
  hipdnnCreateTensorDescriptor(&t);
  hipdnnActivationDescriptor_t act;
  hipdnnCreateActivationDescriptor(&act);
  const float one = 1.0f, zero = 0.0f;
  hipdnnStatus_t st = hipdnnActivationForward(h, act, &one, t, x, &zero, t, y);
  hipdnnDestroyActivationDescriptor(act);
  hipdnnDestroyTensorDescriptor(t);
  return st == HIPDNN_STATUS_SUCCESS ? 0 : 1;
}
