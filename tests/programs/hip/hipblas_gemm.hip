// hipBLAS through its handle: a stream set on the handle, sgemm with one operand transposed
// (column-major), saxpy with host scalars, then sdot writing its result to device memory.
#include "common.h"
#include <hipblas/hipblas.h>
#include <cmath>
#include <vector>

#define CHECK_BLAS(call)                                                             \
    do {                                                                             \
        hipblasStatus_t st_ = (call);                                                \
        if (st_ != HIPBLAS_STATUS_SUCCESS) {                                         \
            std::printf("FAIL: %s at line %d: status %d\n", #call, __LINE__, (int)st_); \
            std::exit(1);                                                            \
        }                                                                            \
    } while (0)

static bool agrees(float got, double want, double scale)
{
    return std::fabs(got - want) <= 1e-4 * (scale + std::fabs(want));
}

int main()
{
    const int m = 67, n = 45, k = 33;
    std::vector<float> a(m * k), b(n * k), c(m * n);
    for (int i = 0; i < m * k; ++i) a[i] = float((i * 37) % 101 - 50) / 50.0f;
    for (int i = 0; i < n * k; ++i) b[i] = float((i * 53) % 89 - 44) / 44.0f;
    for (int i = 0; i < m * n; ++i) c[i] = float(i % 7) * 0.25f;
    const float alpha = 1.5f, beta = -0.5f;

    // C := alpha * A * B^T + beta * C, A is m x k, B is n x k, both column-major
    std::vector<double> want(m * n);
    double scale = 0.0;
    for (int j = 0; j < n; ++j)
        for (int i = 0; i < m; ++i) {
            double s = 0.0;
            for (int p = 0; p < k; ++p) s += double(a[i + p * m]) * double(b[j + p * n]);
            want[i + j * m] = alpha * s + beta * double(c[i + j * m]);
            scale = std::fmax(scale, std::fabs(want[i + j * m]));
        }

    hipblasHandle_t handle;
    CHECK_BLAS(hipblasCreate(&handle));
    hipStream_t stream;
    CHECK(hipStreamCreate(&stream));
    CHECK_BLAS(hipblasSetStream(handle, stream));

    float *da, *db, *dc, *dres;
    CHECK(hipMalloc(&da, a.size() * sizeof(float)));
    CHECK(hipMalloc(&db, b.size() * sizeof(float)));
    CHECK(hipMalloc(&dc, c.size() * sizeof(float)));
    CHECK(hipMalloc(&dres, sizeof(float)));
    CHECK(hipMemcpy(da, a.data(), a.size() * sizeof(float), hipMemcpyHostToDevice));
    CHECK(hipMemcpy(db, b.data(), b.size() * sizeof(float), hipMemcpyHostToDevice));
    CHECK(hipMemcpy(dc, c.data(), c.size() * sizeof(float), hipMemcpyHostToDevice));

    CHECK_BLAS(hipblasSgemm(handle, HIPBLAS_OP_N, HIPBLAS_OP_T, m, n, k, &alpha, da, m, db, n, &beta, dc, m));
    std::vector<float> got(m * n);
    CHECK(hipMemcpyAsync(got.data(), dc, got.size() * sizeof(float), hipMemcpyDeviceToHost, stream));
    CHECK(hipStreamSynchronize(stream));
    bool ok = true;
    for (int i = 0; i < m * n; ++i) ok = ok && agrees(got[i], want[i], scale);

    // y := alpha * x + y on the first two columns of A, then their dot product into device memory
    CHECK_BLAS(hipblasSaxpy(handle, m, &alpha, da, 1, da + m, 1));
    CHECK_BLAS(hipblasSetPointerMode(handle, HIPBLAS_POINTER_MODE_DEVICE));
    CHECK_BLAS(hipblasSdot(handle, m, da, 1, da + m, 1, dres));
    float dot = 0.0f;
    CHECK(hipMemcpyAsync(&dot, dres, sizeof(float), hipMemcpyDeviceToHost, stream));
    CHECK(hipStreamSynchronize(stream));
    double want_dot = 0.0, dot_scale = 0.0;
    for (int i = 0; i < m; ++i) {
        const double y = double(a[i + m]) + alpha * double(a[i]);
        want_dot += double(a[i]) * y;
        dot_scale += std::fabs(double(a[i]) * y);
    }
    ok = ok && agrees(dot, want_dot, dot_scale);

    CHECK_BLAS(hipblasDestroy(handle));
    CHECK(hipStreamDestroy(stream));
    CHECK(hipFree(da)); CHECK(hipFree(db)); CHECK(hipFree(dc)); CHECK(hipFree(dres));
    return finish(ok, "hipblas_gemm");
}
