// LayerNorm forward over the last dimension: one 32-thread tile per row, reductions through
// cooperative groups. Also stores mean and 1/std per row for the backward pass.
#include "nn_common.cuh"

#include <cooperative_groups.h>
#include <cooperative_groups/reduce.h>

namespace cg = cooperative_groups;

__global__ void layernorm_forward_kernel(float* __restrict__ out, float* __restrict__ mean, float* __restrict__ rstd,
                                         const float* __restrict__ inp, const float* __restrict__ weight,
                                         const float* __restrict__ bias, int N, int C)
{
    cg::thread_block          block = cg::this_thread_block();
    cg::thread_block_tile<32> warp  = cg::tiled_partition<32>(block);
    const int                 row   = blockIdx.x * warp.meta_group_size() + warp.meta_group_rank();
    if(row >= N)
        return;
    const float* x = inp + static_cast<long long>(row) * C;

    float sum = 0.0f;
    for(int i = warp.thread_rank(); i < C; i += warp.size())
        sum += x[i];
    sum          = cg::reduce(warp, sum, cg::plus<float>{});
    const float m = sum / C;

    float sq = 0.0f;
    for(int i = warp.thread_rank(); i < C; i += warp.size())
    {
        const float d = x[i] - m;
        sq += d * d;
    }
    sq            = cg::reduce(warp, sq, cg::plus<float>{});
    const float s = rsqrtf(sq / C + 1e-5f);

    if(warp.thread_rank() == 0)
    {
        mean[row] = m;
        rstd[row] = s;
    }
    float* o = out + static_cast<long long>(row) * C;
    for(int i = warp.thread_rank(); i < C; i += warp.size())
        o[i] = s * (__ldcs(x + i) - m) * weight[i] + bias[i];
}

void layernorm_forward(float* out, float* mean, float* rstd, const float* inp, const float* weight,
                       const float* bias, int N, int C, int block_size)
{
    layernorm_forward_kernel<<<ceil_div(N * 32, block_size), block_size>>>(out, mean, rstd, inp, weight, bias, N, C);
    cudaCheck(cudaGetLastError());
}
