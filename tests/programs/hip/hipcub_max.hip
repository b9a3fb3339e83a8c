#include "common.h"
#include <hipcub/hipcub.hpp>
#include <vector>

int main()
{
    const int n = 50000;
    std::vector<int> h(n);
    for (int i = 0; i < n; ++i) h[i] = (i * 7919) % 100003 - 50000;
    int *d_in, *d_out;
    CHECK(hipMalloc(&d_in, n * sizeof(int)));
    CHECK(hipMalloc(&d_out, sizeof(int)));
    CHECK(hipMemcpy(d_in, h.data(), n * sizeof(int), hipMemcpyHostToDevice));
    void* temp = nullptr;
    size_t temp_bytes = 0;
    CHECK(hipcub::DeviceReduce::Reduce(temp, temp_bytes, d_in, d_out, n, hipcub::Max(), -1000000));
    CHECK(hipMalloc(&temp, temp_bytes));
    CHECK(hipcub::DeviceReduce::Reduce(temp, temp_bytes, d_in, d_out, n, hipcub::Max(), -1000000));
    int got = 0;
    CHECK(hipMemcpy(&got, d_out, sizeof(int), hipMemcpyDeviceToHost));
    int expect = h[0];
    for (int v : h) expect = v > expect ? v : expect;
    CHECK(hipFree(temp)); CHECK(hipFree(d_in)); CHECK(hipFree(d_out));
    return finish(got == expect, "hipcub_max");
}
