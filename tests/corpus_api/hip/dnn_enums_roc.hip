#include <miopen/miopen.h>
struct LayerConfig {
  miopenDataType_t type = miopenHalf;
  miopenConvFwdAlgorithm_t algo = miopenConvolutionFwdAlgoGEMM;
  miopenSoftmaxAlgorithm_t softmax = MIOPEN_SOFTMAX_ACCURATE;
  miopenSoftmaxMode_t mode = MIOPEN_SOFTMAX_MODE_CHANNEL;
  miopenPoolingMode_t pool = miopenPoolingMax;
  miopenBatchNormMode_t bn = miopenBNSpatial;
};
const char* describe(miopenStatus_t s) { return miopenGetErrorString(s); }
