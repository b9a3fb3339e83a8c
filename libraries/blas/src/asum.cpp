// asum: result := sum_i |x_i|, as a two-stage reduction through a workspace.
#include "blas_block_sizes.hpp"
#include "blas_reduction.hpp"

template <typename I, int NB, typename Tex, typename Tx>
BLAS_KERNEL(NB) asum_kernel_part1(I n, Tx x, I incx, int64_t stride_x, Tex* __restrict__ workspace)
{
    const auto* xb  = load_ptr_batch(x, blockIdx.z, 0, stride_x);
    Tex         sum = Tex(0);
    for(I i = blockIdx.x * NB + threadIdx.x; i < n; i += gridDim.x * NB)
    {
        sum += blas_abs(blas_convert<Tex>(xb[int64_t(i) * incx]));
    }
    sum = blas_block_reduce_sum<NB>(sum);
    if(threadIdx.x == 0)
        workspace[int64_t(blockIdx.z) * gridDim.x + blockIdx.x] = sum;
}

template <typename T, typename Tx>
blas_status blas_asum_launcher(blas_handle handle, int n, Tx x, int incx, int64_t stride_x, int batch_count,
                               T* results, T* workspace)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(batch_count <= 0)
        return blas_status_success;
    if(!results || (n > 0 && (!x || !workspace)))
        return blas_status_invalid_pointer;
    if(n <= 0 || incx <= 0)
        return hipMemsetAsync(results, 0, sizeof(T) * batch_count, handle->stream) == hipSuccess
                   ? blas_status_success
                   : blas_status_launch_failure;
    constexpr int NB     = BLAS_ASUM_NB;
    const int     blocks = blas_ceil_div(n, NB * BLAS_REDUCE_WIN);
    BLAS_LAUNCH_KERNEL((asum_kernel_part1<int, NB, T, Tx>), dim3(blocks, 1, batch_count), dim3(NB), 0,
                       handle->stream, n, x, incx, stride_x, workspace);
    constexpr int NB2 = BLAS_REDUCE_PART2_NB;
    BLAS_LAUNCH_KERNEL((blas_reduction_kernel_part2<int, NB2, blas_finalize_identity, T, T>),
                       dim3(1, 1, batch_count), dim3(NB2), 0, handle->stream, blocks, workspace, results);
    return blas_status_success;
}

#define BLAS_INSTANTIATE_ASUM(T_) \
    template blas_status blas_asum_launcher<T_, const T_*>(blas_handle, int, const T_*, int, int64_t, int, T_*, T_*);

BLAS_INSTANTIATE_ASUM(float)
BLAS_INSTANTIATE_ASUM(double)
