// dot: result := sum_i x_i * y_i, as a two-stage reduction through a workspace.
#include "blas_block_sizes.hpp"
#include "blas_reduction.hpp"

// Stage one: each block reduces a grid-strided share of the vector (about WIN elements per thread
// when the grid has ceil(n / (NB * WIN)) blocks) and leaves one partial sum per block.
// Tex is the accumulation type: float for __half inputs, T otherwise.
template <typename I, int NB, typename Tex, typename Tx, typename Ty>
BLAS_KERNEL(NB) dot_kernel_part1(I n, Tx x, I incx, int64_t stride_x, Ty y, I incy, int64_t stride_y,
                                 Tex* __restrict__ workspace)
{
    const auto* xb  = load_ptr_batch(x, blockIdx.z, 0, stride_x);
    const auto* yb  = load_ptr_batch(y, blockIdx.z, 0, stride_y);
    Tex         sum = Tex(0);
    for(I i = blockIdx.x * NB + threadIdx.x; i < n; i += gridDim.x * NB)
        sum += blas_convert<Tex>(xb[int64_t(i) * incx]) * blas_convert<Tex>(yb[int64_t(i) * incy]);
    sum = blas_block_reduce_sum<NB>(sum);
    if(threadIdx.x == 0)
        workspace[int64_t(blockIdx.z) * gridDim.x + blockIdx.x] = sum;
}

template <int WIN>
inline int blas_reduction_blocks(int n, int nb)
{
    return blas_ceil_div(n, nb * WIN);
}

// Bytes of workspace a dot of this size needs (caller allocates).
template <typename Tex>
size_t blas_dot_workspace_bytes(int n, int batch_count)
{
    return sizeof(Tex) * size_t(blas_reduction_blocks<BLAS_DOT_WIN>(n, BLAS_DOT_NB_WAVE32)) * batch_count;
}

template <int NB, typename T, typename Tex, typename Tx>
blas_status blas_dot_launch_nb(blas_handle handle, int n, Tx x, int incx, int64_t stride_x, Tx y, int incy,
                               int64_t stride_y, int batch_count, T* results, Tex* workspace)
{
    const int blocks = blas_reduction_blocks<BLAS_DOT_WIN>(n, NB);
    BLAS_LAUNCH_KERNEL((dot_kernel_part1<int, NB, Tex, Tx, Tx>), dim3(blocks, 1, batch_count), dim3(NB), 0,
                       handle->stream, n, x, incx, stride_x, y, incy, stride_y, workspace);
    constexpr int NB2 = BLAS_REDUCE_PART2_NB;
    BLAS_LAUNCH_KERNEL((blas_reduction_kernel_part2<int, NB2, blas_finalize_identity, Tex, T>),
                       dim3(1, 1, batch_count), dim3(NB2), 0, handle->stream, blocks, workspace, results);
    return blas_status_success;
}

// results: batch_count values in device memory.
template <typename T, typename Tex, typename Tx>
blas_status blas_dot_launcher(blas_handle handle, int n, Tx x, int incx, int64_t stride_x, Tx y, int incy,
                              int64_t stride_y, int batch_count, T* results, Tex* workspace)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(batch_count <= 0)
        return blas_status_success;
    if(!results || (n > 0 && (!x || !y || !workspace)))
        return blas_status_invalid_pointer;
    if(n <= 0)
    {
        // BLAS defines the empty dot as zero.
        return hipMemsetAsync(results, 0, sizeof(T) * batch_count, handle->stream) == hipSuccess
                   ? blas_status_success
                   : blas_status_launch_failure;
    }
    if(incx <= 0 || incy <= 0)
        return blas_status_invalid_size;
    // Same wavefronts per block on both architectures: wave32 devices get half the threads.
    if(handle->wavefront == 32)
        return blas_dot_launch_nb<BLAS_DOT_NB_WAVE32>(handle, n, x, incx, stride_x, y, incy, stride_y,
                                                      batch_count, results, workspace);
    return blas_dot_launch_nb<BLAS_DOT_NB>(handle, n, x, incx, stride_x, y, incy, stride_y, batch_count,
                                           results, workspace);
}

#define BLAS_INSTANTIATE_DOT(T_, Tex_)                                                                  \
    template blas_status blas_dot_launcher<T_, Tex_, const T_*>(blas_handle, int, const T_*, int, int64_t,    \
                                                                const T_*, int, int64_t, int, T_*, Tex_*);   \
    template blas_status blas_dot_launcher<T_, Tex_, const T_* const*>(                                     \
        blas_handle, int, const T_* const*, int, int64_t, const T_* const*, int, int64_t, int, T_*, Tex_*);

BLAS_INSTANTIATE_DOT(__half, float)
BLAS_INSTANTIATE_DOT(float, float)
BLAS_INSTANTIATE_DOT(double, double)
