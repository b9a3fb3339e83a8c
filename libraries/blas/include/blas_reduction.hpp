// Second stage of the two-stage reductions (dot, nrm2, asum): one block per batch folds the
// per-block partial results of stage one, left in a workspace, and finalizes them.
#pragma once

#include "blas_device_helpers.hpp"

struct blas_finalize_identity
{
    template <typename T>
    BLAS_DEVICE_ILF T operator()(T x) const
    {
        return x;
    }
};

struct blas_finalize_sqrt
{
    template <typename T>
    BLAS_DEVICE_ILF T operator()(T x) const
    {
        return sqrt(x);
    }
};

// workspace holds n_blocks partial results per batch, batch b at b * n_blocks.
template <typename I, int NB, typename Finalize, typename Tex, typename Tr>
BLAS_KERNEL(NB) blas_reduction_kernel_part2(I n_blocks, const Tex* __restrict__ workspace, Tr* __restrict__ results)
{
    const Tex* partials = workspace + int64_t(blockIdx.z) * n_blocks;
    Tex        sum      = Tex(0);
    for(I i = threadIdx.x; i < n_blocks; i += NB)
        sum += partials[i];
    sum = blas_block_reduce_sum<NB>(sum);
    if(threadIdx.x == 0)
        results[blockIdx.z] = blas_convert<Tr>(Finalize{}(sum));
}
