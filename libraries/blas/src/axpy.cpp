// axpy: y := alpha * x + y
#include "blas_block_sizes.hpp"
#include "blas_device_helpers.hpp"

// One element per thread, any increment. Ta is T (host pointer mode) or const T* (device pointer
// mode); Tx/Ty are pointers (plain, strided-batched) or arrays of pointers (batched).
template <typename I, int NB, typename Ta, typename Tx, typename Ty>
BLAS_KERNEL(NB)
axpy_kernel(I n, Ta alpha_device_host, Tx x, I incx, int64_t stride_x, Ty y, I incy, int64_t stride_y)
{
    const auto alpha = load_scalar(alpha_device_host);
    const I    tid   = blockIdx.x * NB + threadIdx.x;
    if(tid < n)
    {
        const auto* xb = load_ptr_batch(x, blockIdx.z, 0, stride_x);
        auto*       yb = load_ptr_batch(y, blockIdx.z, 0, stride_y);
        yb[int64_t(tid) * incy] += alpha * xb[int64_t(tid) * incx];
    }
}

// Unit-stride fast path: two consecutive elements per thread, halving the index arithmetic and
// letting the compiler emit wider loads.
template <typename I, int NB, typename Ta, typename Tx, typename Ty>
BLAS_KERNEL(NB) axpy_kernel_2(I n, Ta alpha_device_host, Tx x, int64_t stride_x, Ty y, int64_t stride_y)
{
    const auto alpha = load_scalar(alpha_device_host);
    const I    tid   = (blockIdx.x * NB + threadIdx.x) * 2;
    const auto* xb   = load_ptr_batch(x, blockIdx.z, 0, stride_x);
    auto*       yb   = load_ptr_batch(y, blockIdx.z, 0, stride_y);
    if(tid + 1 < n)
    {
        yb[tid]     += alpha * xb[tid];
        yb[tid + 1] += alpha * xb[tid + 1];
    }
    else if(tid < n)
    {
        yb[tid] += alpha * xb[tid];
    }
}

// Launcher: picks the scalar mode and the unit-stride fast path at run time.
template <typename T, typename Tx, typename Ty>
blas_status blas_axpy_launcher(blas_handle handle, int n, const T* alpha, Tx x, int incx, int64_t stride_x,
                               Ty y, int incy, int64_t stride_y, int batch_count)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(n <= 0 || batch_count <= 0)
        return blas_status_success;
    if(incx <= 0 || incy <= 0)
        return blas_status_invalid_size;
    if(!alpha || !x || !y)
        return blas_status_invalid_pointer;

    constexpr int NB     = BLAS_AXPY_NB;
    hipStream_t   stream = handle->stream;
    const bool    unit   = incx == 1 && incy == 1;
    const dim3    block(NB);
    const dim3    grid(unit ? blas_ceil_div(n, 2 * NB) : blas_ceil_div(n, NB), 1, batch_count);

    if(handle->pointer_mode == blas_pointer_mode_device)
    {
        if(unit)
            BLAS_LAUNCH_KERNEL((axpy_kernel_2<int, NB, const T*, Tx, Ty>), grid, block, 0, stream,
                               n, alpha, x, stride_x, y, stride_y);
        else
            BLAS_LAUNCH_KERNEL((axpy_kernel<int, NB, const T*, Tx, Ty>), grid, block, 0, stream,
                               n, alpha, x, incx, stride_x, y, incy, stride_y);
    }
    else
    {
        if(blas_is_zero_host(*alpha))
            return blas_status_success;
        if(unit)
            BLAS_LAUNCH_KERNEL((axpy_kernel_2<int, NB, T, Tx, Ty>), grid, block, 0, stream,
                               n, *alpha, x, stride_x, y, stride_y);
        else
            BLAS_LAUNCH_KERNEL((axpy_kernel<int, NB, T, Tx, Ty>), grid, block, 0, stream,
                               n, *alpha, x, incx, stride_x, y, incy, stride_y);
    }
    return blas_status_success;
}

#define BLAS_INSTANTIATE_AXPY(T_)                                                                      \
    template blas_status blas_axpy_launcher<T_, const T_*, T_*>(                                        \
        blas_handle, int, const T_*, const T_*, int, int64_t, T_*, int, int64_t, int);                  \
    template blas_status blas_axpy_launcher<T_, const T_* const*, T_* const*>(                          \
        blas_handle, int, const T_*, const T_* const*, int, int64_t, T_* const*, int, int64_t, int);

BLAS_INSTANTIATE_AXPY(__half)
BLAS_INSTANTIATE_AXPY(float)
BLAS_INSTANTIATE_AXPY(double)
