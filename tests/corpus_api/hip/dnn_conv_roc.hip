#include <miopen/miopen.h>
void conv(miopenHandle_t h) {
  miopenConvolutionDescriptor_t conv;
  miopenCreateConvolutionDescriptor(&conv);
  miopenPoolingDescriptor_t pool;
  miopenCreatePoolingDescriptor(&pool);
  miopenLRNDescriptor_t lrn;
  miopenDestroyPoolingDescriptor(pool);
  miopenDestroyConvolutionDescriptor(conv);
  miopenDestroy(h);
}
