// swap: x <-> y
#include "blas_block_sizes.hpp"
#include "blas_device_helpers.hpp"

template <typename I, int NB, typename Tx>
BLAS_KERNEL(NB) swap_kernel(I n, Tx x, I incx, int64_t stride_x, Tx y, I incy, int64_t stride_y)
{
    const I tid = blockIdx.x * NB + threadIdx.x;
    if(tid < n)
    {
        auto*      xb  = load_ptr_batch(x, blockIdx.z, 0, stride_x);
        auto*      yb  = load_ptr_batch(y, blockIdx.z, 0, stride_y);
        const auto tmp = yb[int64_t(tid) * incy];
        yb[int64_t(tid) * incy] = xb[int64_t(tid) * incx];
        xb[int64_t(tid) * incx] = tmp;
    }
}

template <typename T, typename Tx>
blas_status blas_swap_launcher(blas_handle handle, int n, Tx x, int incx, int64_t stride_x, Tx y, int incy,
                               int64_t stride_y, int batch_count)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(n <= 0 || batch_count <= 0)
        return blas_status_success;
    if(incx <= 0 || incy <= 0)
        return blas_status_invalid_size;
    if(!x || !y)
        return blas_status_invalid_pointer;
    constexpr int NB = BLAS_SWAP_NB;
    BLAS_LAUNCH_KERNEL((swap_kernel<int, NB, Tx>), dim3(blas_ceil_div(n, NB), 1, batch_count), dim3(NB), 0,
                       handle->stream, n, x, incx, stride_x, y, incy, stride_y);
    return blas_status_success;
}

#define BLAS_INSTANTIATE_SWAP(T_) \
    template blas_status blas_swap_launcher<T_, T_*>(blas_handle, int, T_*, int, int64_t, T_*, int, int64_t, int);

BLAS_INSTANTIATE_SWAP(float)
BLAS_INSTANTIATE_SWAP(double)
