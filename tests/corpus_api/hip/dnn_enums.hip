#include <cudnn.h>
struct LayerConfig {
  hipdnnDataType_t type = HIPDNN_DATA_HALF;
  hipdnnConvolutionFwdAlgo_t algo = HIPDNN_CONVOLUTION_FWD_ALGO_GEMM;
  hipdnnSoftmaxAlgorithm_t softmax = HIPDNN_SOFTMAX_ACCURATE;
  hipdnnSoftmaxMode_t mode = HIPDNN_SOFTMAX_MODE_CHANNEL;
  hipdnnPoolingMode_t pool = HIPDNN_POOLING_MAX;
  hipdnnBatchNormMode_t bn = HIPDNN_BATCHNORM_SPATIAL;
};
const char* describe(hipdnnStatus_t s) { return hipdnnGetErrorString(s); }
