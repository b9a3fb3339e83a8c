#include <cudnn.h>
void conv(cudnnHandle_t h) {
  cudnnConvolutionDescriptor_t conv;
  cudnnCreateConvolutionDescriptor(&conv);
  cudnnPoolingDescriptor_t pool;
  cudnnCreatePoolingDescriptor(&pool);
  cudnnLRNDescriptor_t lrn;
  cudnnDestroyPoolingDescriptor(pool);
  cudnnDestroyConvolutionDescriptor(conv);
  cudnnDestroy(h);
}
