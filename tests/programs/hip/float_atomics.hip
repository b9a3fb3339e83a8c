#include "common.h"

// atomicMax/atomicMin on float: HIP has them, CUDA only for integer types.
__global__ void extremes(int n, const float* x, float* hi, float* lo, double* sum)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) {
        atomicMax(hi, x[i]);
        atomicMin(lo, x[i]);
        atomicAdd(sum, static_cast<double>(x[i]));
    }
}

int main()
{
    const int n = 10000;
    float h[n];
    double expect_sum = 0.0;
    float expect_hi = -1e30f, expect_lo = 1e30f;
    for (int i = 0; i < n; ++i) {
        h[i] = static_cast<float>((i * 37) % 1001) - 500.25f;
        expect_sum += h[i];
        expect_hi = h[i] > expect_hi ? h[i] : expect_hi;
        expect_lo = h[i] < expect_lo ? h[i] : expect_lo;
    }
    float *dx, *dhi, *dlo;
    double* dsum;
    CHECK(hipMalloc(&dx, sizeof(h)));
    CHECK(hipMalloc(&dhi, sizeof(float)));
    CHECK(hipMalloc(&dlo, sizeof(float)));
    CHECK(hipMalloc(&dsum, sizeof(double)));
    float init_hi = -1e30f, init_lo = 1e30f;
    double zero = 0.0;
    CHECK(hipMemcpy(dx, h, sizeof(h), hipMemcpyHostToDevice));
    CHECK(hipMemcpy(dhi, &init_hi, sizeof(float), hipMemcpyHostToDevice));
    CHECK(hipMemcpy(dlo, &init_lo, sizeof(float), hipMemcpyHostToDevice));
    CHECK(hipMemcpy(dsum, &zero, sizeof(double), hipMemcpyHostToDevice));
    extremes<<<(n + 255) / 256, 256>>>(n, dx, dhi, dlo, dsum);
    float hi, lo;
    double sum;
    CHECK(hipMemcpy(&hi, dhi, sizeof(float), hipMemcpyDeviceToHost));
    CHECK(hipMemcpy(&lo, dlo, sizeof(float), hipMemcpyDeviceToHost));
    CHECK(hipMemcpy(&sum, dsum, sizeof(double), hipMemcpyDeviceToHost));
    bool ok = hi == expect_hi && lo == expect_lo && (sum - expect_sum) < 1e-6 && (expect_sum - sum) < 1e-6;
    CHECK(hipFree(dx)); CHECK(hipFree(dhi)); CHECK(hipFree(dlo)); CHECK(hipFree(dsum));
    return finish(ok, "float_atomics");
}
