// laswp: apply the row interchanges ipiv[k1-1 .. k2-1] (1-based, LAPACK convention) to the
// columns of A, in order.
#include "solver_common.hpp"

// Each thread owns one column and applies every interchange to it in sequence; the interchanges
// do not commute, so the sequence stays inside a thread.
template <typename I, int NB, typename T, typename U>
SOLVER_KERNEL(NB) laswp_kernel(I n, U A, I lda, int64_t stride_a, I k1, I k2, const I* __restrict__ ipiv,
                               int64_t stride_p)
{
    const I col = blockIdx.x * NB + threadIdx.x;
    if(col >= n)
        return;
    T*       column = load_ptr_batch(A, blockIdx.z, 0, stride_a) + int64_t(col) * lda;
    const I* piv    = ipiv + int64_t(blockIdx.z) * stride_p;
    for(I i = k1 - 1; i < k2; ++i)
    {
        const I p = piv[i] - 1;
        if(p != i)
        {
            const T tmp = column[i];
            column[i]   = column[p];
            column[p]   = tmp;
        }
    }
}

template <typename T, typename U>
blas_status solver_laswp_launcher(blas_handle handle, int n, U A, int lda, int64_t stride_a, int k1, int k2,
                                  const int* ipiv, int64_t stride_p, int batch_count)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(n < 0 || lda < 1 || k1 < 1 || k2 < k1 || batch_count < 0)
        return blas_status_invalid_size;
    if(n == 0 || batch_count == 0)
        return blas_status_success;
    if(!A || !ipiv)
        return blas_status_invalid_pointer;
    constexpr int NB = SOLVER_LASWP_NB;
    SOLVER_LAUNCH_KERNEL((laswp_kernel<int, NB, T, U>), dim3(blas_ceil_div(n, NB), 1, batch_count), dim3(NB), 0,
                         handle->stream, n, A, lda, stride_a, k1, k2, ipiv, stride_p);
    return blas_status_success;
}

#define SOLVER_INSTANTIATE_LASWP(T_)                                                                       \
    template blas_status solver_laswp_launcher<T_, T_*>(blas_handle, int, T_*, int, int64_t, int, int,         \
                                                        const int*, int64_t, int);                             \
    template blas_status solver_laswp_launcher<T_, T_* const*>(blas_handle, int, T_* const*, int, int64_t, int, \
                                                               int, const int*, int64_t, int);

SOLVER_INSTANTIATE_LASWP(float)
SOLVER_INSTANTIATE_LASWP(double)
