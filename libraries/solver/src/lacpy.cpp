// lacpy: B := A for an m x n matrix, or only its lower or upper triangle (LAPACK lacpy).
#include "solver_common.hpp"

template <typename I, int DIM_X, int DIM_Y, int UPLO, typename T, typename UA, typename UB>
SOLVER_KERNEL(DIM_X * DIM_Y) lacpy_kernel(I m, I n, UA A, I lda, int64_t stride_a, UB B, I ldb, int64_t stride_b)
{
    const I row = blockIdx.x * DIM_X + threadIdx.x % DIM_X;
    const I col = blockIdx.y * DIM_Y + threadIdx.x / DIM_X;
    if(row >= m || col >= n)
        return;
    if((UPLO == SOLVER_COPY_LOWER && row < col) || (UPLO == SOLVER_COPY_UPPER && row > col))
        return;
    const T* a = load_ptr_batch(A, blockIdx.z, 0, stride_a);
    T*       b = load_ptr_batch(B, blockIdx.z, 0, stride_b);
    b[row + int64_t(col) * ldb] = a[row + int64_t(col) * lda];
}

template <typename T, typename UA, typename UB>
blas_status solver_lacpy_launcher(blas_handle handle, int uplo, int m, int n, UA A, int lda, int64_t stride_a, UB B,
                                  int ldb, int64_t stride_b, int batch_count)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(m < 0 || n < 0 || lda < m || ldb < m || lda < 1 || ldb < 1 || batch_count < 0)
        return blas_status_invalid_size;
    if(m == 0 || n == 0 || batch_count == 0)
        return blas_status_success;
    if(!A || !B)
        return blas_status_invalid_pointer;
    constexpr int DX = SOLVER_COPY_DIM_X, DY = SOLVER_COPY_DIM_Y;
    const dim3    grid(blas_ceil_div(m, DX), blas_ceil_div(n, DY), batch_count);
    switch(uplo)
    {
    case SOLVER_COPY_LOWER:
        SOLVER_LAUNCH_KERNEL((lacpy_kernel<int, DX, DY, SOLVER_COPY_LOWER, T, UA, UB>), grid, dim3(DX * DY), 0,
                             handle->stream, m, n, A, lda, stride_a, B, ldb, stride_b);
        break;
    case SOLVER_COPY_UPPER:
        SOLVER_LAUNCH_KERNEL((lacpy_kernel<int, DX, DY, SOLVER_COPY_UPPER, T, UA, UB>), grid, dim3(DX * DY), 0,
                             handle->stream, m, n, A, lda, stride_a, B, ldb, stride_b);
        break;
    default:
        SOLVER_LAUNCH_KERNEL((lacpy_kernel<int, DX, DY, SOLVER_COPY_FULL, T, UA, UB>), grid, dim3(DX * DY), 0,
                             handle->stream, m, n, A, lda, stride_a, B, ldb, stride_b);
    }
    return blas_status_success;
}

#define SOLVER_INSTANTIATE_LACPY(T_)                                                                       \
    template blas_status solver_lacpy_launcher<T_, const T_*, T_*>(blas_handle, int, int, int, const T_*, int,  \
                                                                   int64_t, T_*, int, int64_t, int);

SOLVER_INSTANTIATE_LACPY(float)
SOLVER_INSTANTIATE_LACPY(double)
