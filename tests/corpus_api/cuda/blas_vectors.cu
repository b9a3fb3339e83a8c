#include <cublas_v2.h>
void roundtrip(cublasHandle_t h, int n, const double* host, double* dev, double* back) {
  cublasSetVector(n, sizeof(double), host, 1, dev, 1);
  double sum = 0.0;
  cublasDasum(h, n, dev, 1, &sum);
  cublasDcopy(h, n, dev, 1, dev + n, 1);
  cublasDswap(h, n, dev, 1, dev + n, 1);
  cublasGetVector(n, sizeof(double), dev, 1, back, 1);
  cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
}
