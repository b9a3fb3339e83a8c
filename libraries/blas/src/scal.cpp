// scal: x := alpha * x
#include "blas_block_sizes.hpp"
#include "blas_device_helpers.hpp"

template <typename I, int NB, typename Ta, typename Tx>
BLAS_KERNEL(NB) scal_kernel(I n, Ta alpha_device_host, Tx x, I incx, int64_t stride_x)
{
    const auto alpha = load_scalar(alpha_device_host);
    const I    tid   = blockIdx.x * NB + threadIdx.x;
    if(tid < n)
    {
        auto* xb = load_ptr_batch(x, blockIdx.z, 0, stride_x);
        xb[int64_t(tid) * incx] *= alpha;
    }
}

template <typename T, typename Tx>
blas_status blas_scal_launcher(blas_handle handle, int n, const T* alpha, Tx x, int incx, int64_t stride_x,
                               int batch_count)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(n <= 0 || incx <= 0 || batch_count <= 0)
        return blas_status_success; // BLAS semantics: nothing to scale
    if(!alpha || !x)
        return blas_status_invalid_pointer;

    constexpr int NB = BLAS_SCAL_NB;
    const dim3    grid(blas_ceil_div(n, NB), 1, batch_count);
    if(handle->pointer_mode == blas_pointer_mode_device)
        BLAS_LAUNCH_KERNEL((scal_kernel<int, NB, const T*, Tx>), grid, dim3(NB), 0, handle->stream,
                           n, alpha, x, incx, stride_x);
    else
        BLAS_LAUNCH_KERNEL((scal_kernel<int, NB, T, Tx>), grid, dim3(NB), 0, handle->stream,
                           n, *alpha, x, incx, stride_x);
    return blas_status_success;
}

#define BLAS_INSTANTIATE_SCAL(T_)                                                                      \
    template blas_status blas_scal_launcher<T_, T_*>(blas_handle, int, const T_*, T_*, int, int64_t, int); \
    template blas_status blas_scal_launcher<T_, T_* const*>(blas_handle, int, const T_*, T_* const*, int,   \
                                                            int64_t, int);

BLAS_INSTANTIATE_SCAL(float)
BLAS_INSTANTIATE_SCAL(double)
