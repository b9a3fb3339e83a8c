// iamax: result := 1-based index of the first element of largest |x_i|, as a two-stage reduction.
#include "blas_block_sizes.hpp"
#include "blas_device_helpers.hpp"

// Stage one: per block, the largest |x_i| of a grid-strided share and its (0-based) index.
template <typename I, int NB, typename T, typename Tx>
BLAS_KERNEL(NB) iamax_kernel_part1(I n, Tx x, I incx, int64_t stride_x, T* __restrict__ workspace_values,
                                   I* __restrict__ workspace_indices)
{
    const auto*              xb = load_ptr_batch(x, blockIdx.z, 0, stride_x);
    blas_index_value<T, I>   best{T(0), I(-1)};
    for(I i = blockIdx.x * NB + threadIdx.x; i < n; i += gridDim.x * NB)
    {
        // Indices grow along a thread's loop, so a strict > keeps the first occurrence.
        const T v = blas_abs(T(xb[int64_t(i) * incx]));
        if(best.index < 0 || v > best.value)
            best = {v, i};
    }
    best = blas_block_reduce_iamax<NB>(best);
    if(threadIdx.x == 0)
    {
        const int64_t slot       = int64_t(blockIdx.z) * gridDim.x + blockIdx.x;
        workspace_values[slot]  = best.value;
        workspace_indices[slot] = best.index;
    }
}

// Stage two: one block per batch folds the per-block winners; results are 1-based.
template <typename I, int NB, typename T>
BLAS_KERNEL(NB) iamax_kernel_part2(I n_blocks, const T* __restrict__ workspace_values,
                                   const I* __restrict__ workspace_indices, I* __restrict__ results)
{
    const int64_t          base = int64_t(blockIdx.z) * n_blocks;
    blas_index_value<T, I> best{T(0), I(-1)};
    for(I i = threadIdx.x; i < n_blocks; i += NB)
        best = blas_iamax_pick(best, blas_index_value<T, I>{workspace_values[base + i], workspace_indices[base + i]});
    best = blas_block_reduce_iamax<NB>(best);
    if(threadIdx.x == 0)
        results[blockIdx.z] = best.index + 1;
}

template <typename T, typename Tx>
blas_status blas_iamax_launcher(blas_handle handle, int n, Tx x, int incx, int64_t stride_x, int batch_count,
                                int* results, T* workspace_values, int* workspace_indices)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(batch_count <= 0)
        return blas_status_success;
    if(!results || (n > 0 && (!x || !workspace_values || !workspace_indices)))
        return blas_status_invalid_pointer;
    if(n <= 0 || incx <= 0)
        // BLAS returns index 0 for an empty vector.
        return hipMemsetAsync(results, 0, sizeof(int) * batch_count, handle->stream) == hipSuccess
                   ? blas_status_success
                   : blas_status_launch_failure;
    constexpr int NB     = BLAS_IAMAX_NB;
    const int     blocks = blas_ceil_div(n, NB * BLAS_REDUCE_WIN);
    BLAS_LAUNCH_KERNEL((iamax_kernel_part1<int, NB, T, Tx>), dim3(blocks, 1, batch_count), dim3(NB), 0,
                       handle->stream, n, x, incx, stride_x, workspace_values, workspace_indices);
    constexpr int NB2 = BLAS_REDUCE_PART2_NB;
    BLAS_LAUNCH_KERNEL((iamax_kernel_part2<int, NB2, T>), dim3(1, 1, batch_count), dim3(NB2), 0, handle->stream,
                       blocks, workspace_values, workspace_indices, results);
    return blas_status_success;
}

#define BLAS_INSTANTIATE_IAMAX(T_)                                                                     \
    template blas_status blas_iamax_launcher<T_, const T_*>(blas_handle, int, const T_*, int, int64_t, int, \
                                                            int*, T_*, int*);

BLAS_INSTANTIATE_IAMAX(float)
BLAS_INSTANTIATE_IAMAX(double)
