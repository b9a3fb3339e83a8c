// hipRAND both ways: the host API fills device buffers (uniform, and normal with a mean and a
// deviation), a kernel draws from per-thread Philox states; the sample moments must be right.
#include "common.h"
#include <hiprand/hiprand.h>
#include <hiprand/hiprand_kernel.h>
#include <cmath>
#include <vector>

#define CHECK_RAND(call)                                                             \
    do {                                                                             \
        hiprandStatus_t st_ = (call);                                                \
        if (st_ != HIPRAND_STATUS_SUCCESS) {                                         \
            std::printf("FAIL: %s at line %d: status %d\n", #call, __LINE__, (int)st_); \
            std::exit(1);                                                            \
        }                                                                            \
    } while (0)

__global__ void draw(unsigned long long seed, float* uniform, float* normal, int n)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    hiprandStatePhilox4_32_10_t state;
    hiprand_init(seed, i, 0, &state);
    uniform[i] = hiprand_uniform(&state);
    normal[i] = hiprand_normal(&state);
}

struct Moments { double mean, var, lo, hi; };

static Moments moments(const std::vector<float>& v)
{
    double s = 0.0, lo = v[0], hi = v[0];
    for (float x : v) { s += x; lo = std::fmin(lo, x); hi = std::fmax(hi, x); }
    const double mean = s / v.size();
    double q = 0.0;
    for (float x : v) q += (x - mean) * (x - mean);
    return {mean, q / v.size(), lo, hi};
}

int main()
{
    const int n = 1 << 20;
    float *du, *dn;
    CHECK(hipMalloc(&du, n * sizeof(float)));
    CHECK(hipMalloc(&dn, n * sizeof(float)));
    std::vector<float> u(n), g(n);
    bool ok = true;

    hiprandGenerator_t gen;
    CHECK_RAND(hiprandCreateGenerator(&gen, HIPRAND_RNG_PSEUDO_DEFAULT));
    CHECK_RAND(hiprandSetPseudoRandomGeneratorSeed(gen, 2024ULL));
    CHECK_RAND(hiprandGenerateUniform(gen, du, n));
    CHECK_RAND(hiprandGenerateNormal(gen, dn, n, 2.0f, 3.0f));
    CHECK(hipDeviceSynchronize());
    CHECK(hipMemcpy(u.data(), du, n * sizeof(float), hipMemcpyDeviceToHost));
    CHECK(hipMemcpy(g.data(), dn, n * sizeof(float), hipMemcpyDeviceToHost));
    Moments mu = moments(u), mg = moments(g);
    ok = ok && mu.lo > 0.0 && mu.hi <= 1.0 && std::fabs(mu.mean - 0.5) < 0.005 && std::fabs(mu.var - 1.0 / 12) < 0.005;
    ok = ok && std::fabs(mg.mean - 2.0) < 0.05 && std::fabs(std::sqrt(mg.var) - 3.0) < 0.05;
    CHECK_RAND(hiprandDestroyGenerator(gen));

    hipLaunchKernelGGL(draw, dim3((n + 255) / 256), dim3(256), 0, 0, 7ULL, du, dn, n);
    CHECK(hipGetLastError());
    CHECK(hipMemcpy(u.data(), du, n * sizeof(float), hipMemcpyDeviceToHost));
    CHECK(hipMemcpy(g.data(), dn, n * sizeof(float), hipMemcpyDeviceToHost));
    mu = moments(u);
    mg = moments(g);
    ok = ok && mu.lo > 0.0 && mu.hi <= 1.0 && std::fabs(mu.mean - 0.5) < 0.005 && std::fabs(mu.var - 1.0 / 12) < 0.005;
    ok = ok && std::fabs(mg.mean) < 0.01 && std::fabs(mg.var - 1.0) < 0.02;

    CHECK(hipFree(du)); CHECK(hipFree(dn));
    return finish(ok, "hiprand_stats");
}
