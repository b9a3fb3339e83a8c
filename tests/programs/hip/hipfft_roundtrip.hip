// hipFFT plans: a complex-to-complex transform of one pure frequency (all its energy in one bin),
// the inverse back (N times the input), and a real-to-complex transform of a cosine.
#include "common.h"
#include <hipfft/hipfft.h>
#include <cmath>
#include <vector>

#define CHECK_FFT(call)                                                              \
    do {                                                                             \
        hipfftResult st_ = (call);                                                   \
        if (st_ != HIPFFT_SUCCESS) {                                                 \
            std::printf("FAIL: %s at line %d: result %d\n", #call, __LINE__, (int)st_); \
            std::exit(1);                                                            \
        }                                                                            \
    } while (0)

int main()
{
    const int n = 256, freq = 5;
    const double two_pi = 6.283185307179586;
    std::vector<hipfftComplex> x(n), y(n);
    for (int j = 0; j < n; ++j) {
        x[j].x = float(std::cos(two_pi * freq * j / n));
        x[j].y = float(std::sin(two_pi * freq * j / n));
    }
    hipfftComplex* d;
    CHECK(hipMalloc(&d, n * sizeof(hipfftComplex)));
    CHECK(hipMemcpy(d, x.data(), n * sizeof(hipfftComplex), hipMemcpyHostToDevice));
    hipfftHandle plan;
    CHECK_FFT(hipfftPlan1d(&plan, n, HIPFFT_C2C, 1));
    CHECK_FFT(hipfftExecC2C(plan, d, d, HIPFFT_FORWARD));
    CHECK(hipMemcpy(y.data(), d, n * sizeof(hipfftComplex), hipMemcpyDeviceToHost));
    bool ok = true;
    for (int b = 0; b < n; ++b) {
        const double mag = std::hypot(y[b].x, y[b].y);
        ok = ok && (b == freq ? std::fabs(mag - n) < 1e-2 * n : mag < 1e-3 * n);
    }
    CHECK_FFT(hipfftExecC2C(plan, d, d, HIPFFT_BACKWARD));
    CHECK(hipMemcpy(y.data(), d, n * sizeof(hipfftComplex), hipMemcpyDeviceToHost));
    for (int j = 0; j < n; ++j)
        ok = ok && std::fabs(y[j].x / n - x[j].x) < 1e-4 && std::fabs(y[j].y / n - x[j].y) < 1e-4;
    CHECK_FFT(hipfftDestroy(plan));

    // real input: cos(2 pi 3 j / n) has n/2 in bin 3 of the n/2 + 1 outputs
    std::vector<hipfftReal> r(n);
    for (int j = 0; j < n; ++j) r[j] = float(std::cos(two_pi * 3 * j / n));
    hipfftReal* dr;
    CHECK(hipMalloc(&dr, n * sizeof(hipfftReal)));
    CHECK(hipMemcpy(dr, r.data(), n * sizeof(hipfftReal), hipMemcpyHostToDevice));
    CHECK_FFT(hipfftPlan1d(&plan, n, HIPFFT_R2C, 1));
    CHECK_FFT(hipfftExecR2C(plan, dr, d));
    std::vector<hipfftComplex> half(n / 2 + 1);
    CHECK(hipMemcpy(half.data(), d, half.size() * sizeof(hipfftComplex), hipMemcpyDeviceToHost));
    for (int b = 0; b <= n / 2; ++b) {
        const double re = half[b].x, im = half[b].y;
        ok = ok && (b == 3 ? std::fabs(re - n / 2.0) < 1e-2 * n && std::fabs(im) < 1e-3 * n
                           : std::hypot(re, im) < 1e-3 * n);
    }
    CHECK_FFT(hipfftDestroy(plan));
    CHECK(hipFree(d)); CHECK(hipFree(dr));
    return finish(ok, "hipfft_roundtrip");
}
