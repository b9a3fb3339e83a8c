// ger: A := alpha * x * y^T + A, A column-major m x n.
#include "blas_block_sizes.hpp"
#include "blas_device_helpers.hpp"

// Each thread owns one row and WIN columns of a DIM_X x (DIM_Y * WIN) tile: x_i is loaded once,
// and every column update is a coalesced read-modify-write of DIM_X consecutive elements.
template <typename I, int DIM_X, int DIM_Y, int WIN, typename Ta, typename Tx, typename TA>
BLAS_KERNEL(DIM_X * DIM_Y)
ger_kernel(I m, I n, Ta alpha_device_host, Tx x, I incx, int64_t stride_x, Tx y, I incy, int64_t stride_y, TA A,
           I lda, int64_t stride_a)
{
    const auto alpha = load_scalar(alpha_device_host);
    const int  tx    = threadIdx.x % DIM_X;
    const int  ty    = threadIdx.x / DIM_X;
    const I    row   = blockIdx.x * DIM_X + tx;
    const I    col0  = (blockIdx.y * DIM_Y + ty) * WIN;
    if(row >= m)
        return;
    const auto* xb = load_ptr_batch(x, blockIdx.z, 0, stride_x);
    const auto* yb = load_ptr_batch(y, blockIdx.z, 0, stride_y);
    auto*       Ab = load_ptr_batch(A, blockIdx.z, 0, stride_a);
    const auto  ax = alpha * xb[int64_t(row) * incx];
#pragma unroll
    for(int w = 0; w < WIN; ++w)
    {
        const I col = col0 + w;
        if(col < n)
            Ab[row + int64_t(col) * lda] += ax * yb[int64_t(col) * incy];
    }
}

template <typename T, typename Tx, typename TA>
blas_status blas_ger_launcher(blas_handle handle, int m, int n, const T* alpha, Tx x, int incx, int64_t stride_x,
                              Tx y, int incy, int64_t stride_y, TA A, int lda, int64_t stride_a, int batch_count)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(m < 0 || n < 0 || lda < m || lda < 1 || incx <= 0 || incy <= 0 || batch_count < 0)
        return blas_status_invalid_size;
    if(m == 0 || n == 0 || batch_count == 0)
        return blas_status_success;
    if(!alpha || !x || !y || !A)
        return blas_status_invalid_pointer;
    constexpr int DX = BLAS_GER_DIM_X, DY = BLAS_GER_DIM_Y, WIN = BLAS_GER_WIN;
    const dim3    grid(blas_ceil_div(m, DX), blas_ceil_div(n, DY * WIN), batch_count);
    if(handle->pointer_mode == blas_pointer_mode_device)
        BLAS_LAUNCH_KERNEL((ger_kernel<int, DX, DY, WIN, const T*, Tx, TA>), grid, dim3(DX * DY), 0, handle->stream,
                           m, n, alpha, x, incx, stride_x, y, incy, stride_y, A, lda, stride_a);
    else
        BLAS_LAUNCH_KERNEL((ger_kernel<int, DX, DY, WIN, T, Tx, TA>), grid, dim3(DX * DY), 0, handle->stream, m, n,
                           *alpha, x, incx, stride_x, y, incy, stride_y, A, lda, stride_a);
    return blas_status_success;
}

#define BLAS_INSTANTIATE_GER(T_)                                                                         \
    template blas_status blas_ger_launcher<T_, const T_*, T_*>(blas_handle, int, int, const T_*, const T_*, int, \
                                                               int64_t, const T_*, int, int64_t, T_*, int,    \
                                                               int64_t, int);

BLAS_INSTANTIATE_GER(float)
BLAS_INSTANTIATE_GER(double)
