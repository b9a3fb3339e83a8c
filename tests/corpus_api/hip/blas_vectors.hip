#include <hipblas/hipblas.h>
void roundtrip(hipblasHandle_t h, int n, const double* host, double* dev, double* back) {
  hipblasSetVector(n, sizeof(double), host, 1, dev, 1);
  double sum = 0.0;
  hipblasDasum(h, n, dev, 1, &sum);
  hipblasDcopy(h, n, dev, 1, dev + n, 1);
  hipblasDswap(h, n, dev, 1, dev + n, 1);
  hipblasGetVector(n, sizeof(double), dev, 1, back, 1);
  hipblasSetMathMode(h, HIPBLAS_DEFAULT_MATH);
}
