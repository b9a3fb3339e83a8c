// copy: y := x
#include "blas_block_sizes.hpp"
#include "blas_device_helpers.hpp"

template <typename I, int NB, typename Tx, typename Ty>
BLAS_KERNEL(NB) copy_kernel(I n, Tx x, I incx, int64_t stride_x, Ty y, I incy, int64_t stride_y)
{
    const I tid = blockIdx.x * NB + threadIdx.x;
    if(tid < n)
    {
        const auto* xb = load_ptr_batch(x, blockIdx.z, 0, stride_x);
        auto*       yb = load_ptr_batch(y, blockIdx.z, 0, stride_y);
        yb[int64_t(tid) * incy] = xb[int64_t(tid) * incx];
    }
}

template <typename T, typename Tx, typename Ty>
blas_status blas_copy_launcher(blas_handle handle, int n, Tx x, int incx, int64_t stride_x, Ty y, int incy,
                               int64_t stride_y, int batch_count)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(n <= 0 || batch_count <= 0)
        return blas_status_success;
    if(incx <= 0 || incy <= 0)
        return blas_status_invalid_size;
    if(!x || !y)
        return blas_status_invalid_pointer;
    constexpr int NB = BLAS_COPY_NB;
    BLAS_LAUNCH_KERNEL((copy_kernel<int, NB, Tx, Ty>), dim3(blas_ceil_div(n, NB), 1, batch_count), dim3(NB), 0,
                       handle->stream, n, x, incx, stride_x, y, incy, stride_y);
    return blas_status_success;
}

#define BLAS_INSTANTIATE_COPY(T_)                                                                     \
    template blas_status blas_copy_launcher<T_, const T_*, T_*>(blas_handle, int, const T_*, int, int64_t, \
                                                                T_*, int, int64_t, int);

BLAS_INSTANTIATE_COPY(float)
BLAS_INSTANTIATE_COPY(double)
