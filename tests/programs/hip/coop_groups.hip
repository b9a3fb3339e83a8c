#include "common.h"
#include <hip/hip_cooperative_groups.h>

namespace cg = cooperative_groups;

__global__ void tile_sums(int n, const float* x, float* out)
{
    cg::thread_block block = cg::this_thread_block();
    cg::thread_block_tile<16> tile = cg::tiled_partition<16>(block);
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    float v = i < n ? x[i] : 0.0f;
    for (int offset = tile.size() / 2; offset > 0; offset /= 2) v += tile.shfl_down(v, offset);
    block.sync();
    if (tile.thread_rank() == 0 && i < n) out[i / 16] = v;
}

int main()
{
    const int n = 4096;
    float h[n];
    for (int i = 0; i < n; ++i) h[i] = static_cast<float>(i % 16);
    float *dx, *dout;
    CHECK(hipMalloc(&dx, sizeof(h)));
    CHECK(hipMalloc(&dout, n / 16 * sizeof(float)));
    CHECK(hipMemcpy(dx, h, sizeof(h), hipMemcpyHostToDevice));
    tile_sums<<<n / 128, 128>>>(n, dx, dout);
    float out[n / 16];
    CHECK(hipMemcpy(out, dout, sizeof(out), hipMemcpyDeviceToHost));
    bool ok = true;
    for (int t = 0; t < n / 16; ++t) ok = ok && out[t] == 120.0f;
    CHECK(hipFree(dx)); CHECK(hipFree(dout));
    return finish(ok, "coop_groups");
}
