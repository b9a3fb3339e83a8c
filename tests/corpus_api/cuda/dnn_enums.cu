#include <cudnn.h>
struct LayerConfig {
  cudnnDataType_t type = CUDNN_DATA_HALF;
  cudnnConvolutionFwdAlgo_t algo = CUDNN_CONVOLUTION_FWD_ALGO_GEMM;
  cudnnSoftmaxAlgorithm_t softmax = CUDNN_SOFTMAX_ACCURATE;
  cudnnSoftmaxMode_t mode = CUDNN_SOFTMAX_MODE_CHANNEL;
  cudnnPoolingMode_t pool = CUDNN_POOLING_MAX;
  cudnnBatchNormMode_t bn = CUDNN_BATCHNORM_SPATIAL;
};
const char* describe(cudnnStatus_t s) { return cudnnGetErrorString(s); }
