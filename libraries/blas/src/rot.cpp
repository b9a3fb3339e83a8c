// rot: apply the plane rotation [c s; -s c] to the pairs (x_i, y_i)
#include "blas_block_sizes.hpp"
#include "blas_device_helpers.hpp"

template <typename I, int NB, typename Tc, typename Tx>
BLAS_KERNEL(NB) rot_kernel(I n, Tx x, I incx, int64_t stride_x, Tx y, I incy, int64_t stride_y, Tc c_device_host,
                           Tc s_device_host)
{
    const auto c   = load_scalar(c_device_host);
    const auto s   = load_scalar(s_device_host);
    const I    tid = blockIdx.x * NB + threadIdx.x;
    if(tid < n)
    {
        auto*      xb = load_ptr_batch(x, blockIdx.z, 0, stride_x);
        auto*      yb = load_ptr_batch(y, blockIdx.z, 0, stride_y);
        const auto xi = xb[int64_t(tid) * incx];
        const auto yi = yb[int64_t(tid) * incy];
        xb[int64_t(tid) * incx] = c * xi + s * yi;
        yb[int64_t(tid) * incy] = c * yi - s * xi;
    }
}

template <typename T, typename Tx>
blas_status blas_rot_launcher(blas_handle handle, int n, Tx x, int incx, int64_t stride_x, Tx y, int incy,
                              int64_t stride_y, const T* c, const T* s, int batch_count)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(n <= 0 || batch_count <= 0)
        return blas_status_success;
    if(incx <= 0 || incy <= 0)
        return blas_status_invalid_size;
    if(!x || !y || !c || !s)
        return blas_status_invalid_pointer;
    constexpr int NB = BLAS_ROT_NB;
    const dim3    grid(blas_ceil_div(n, NB), 1, batch_count);
    if(handle->pointer_mode == blas_pointer_mode_device)
        BLAS_LAUNCH_KERNEL((rot_kernel<int, NB, const T*, Tx>), grid, dim3(NB), 0, handle->stream, n, x, incx,
                           stride_x, y, incy, stride_y, c, s);
    else
        BLAS_LAUNCH_KERNEL((rot_kernel<int, NB, T, Tx>), grid, dim3(NB), 0, handle->stream, n, x, incx,
                           stride_x, y, incy, stride_y, *c, *s);
    return blas_status_success;
}

#define BLAS_INSTANTIATE_ROT(T_)                                                                       \
    template blas_status blas_rot_launcher<T_, T_*>(blas_handle, int, T_*, int, int64_t, T_*, int, int64_t, \
                                                    const T_*, const T_*, int);

BLAS_INSTANTIATE_ROT(float)
BLAS_INSTANTIATE_ROT(double)
