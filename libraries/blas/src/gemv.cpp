// gemv: y := alpha * op(A) * x + beta * y, A column-major m x n, op(A) = A or A^T.
#include "blas_block_sizes.hpp"
#include "blas_device_helpers.hpp"

// op(A) = A. A block owns DIM_X rows; its DIM_Y thread rows split the columns between them, so each
// column read is DIM_X consecutive elements, and the DIM_Y partial sums meet in shared memory.
template <typename I, int DIM_X, int DIM_Y, typename T, typename Ta, typename TA, typename Tx, typename Ty>
BLAS_KERNEL(DIM_X * DIM_Y)
gemvn_kernel(I m, I n, Ta alpha_device_host, TA A, I lda, int64_t stride_a, Tx x, I incx, int64_t stride_x,
             Ta beta_device_host, Ty y, I incy, int64_t stride_y)
{
    __shared__ T partial[DIM_Y][DIM_X];
    const auto   alpha = load_scalar(alpha_device_host);
    const auto   beta  = load_scalar(beta_device_host);
    const int    tx    = threadIdx.x % DIM_X;
    const int    ty    = threadIdx.x / DIM_X;
    const I      row   = blockIdx.x * DIM_X + tx;
    const auto*  Ab    = load_ptr_batch(A, blockIdx.z, 0, stride_a);
    const auto*  xb    = load_ptr_batch(x, blockIdx.z, 0, stride_x);
    auto*        yb    = load_ptr_batch(y, blockIdx.z, 0, stride_y);

    T sum = T(0);
    if(row < m)
        for(I col = ty; col < n; col += DIM_Y)
            sum += Ab[row + int64_t(col) * lda] * xb[int64_t(col) * incx];
    partial[ty][tx] = sum;
    __syncthreads();

    if(ty == 0 && row < m)
    {
        for(int j = 1; j < DIM_Y; ++j)
            sum += partial[j][tx];
        T& yr = yb[int64_t(row) * incy];
        // BLAS: with beta == 0, y is not read (it may hold NaN).
        yr = blas_is_zero(beta) ? alpha * sum : alpha * sum + beta * yr;
    }
}

// op(A) = A^T. One block per output element: a block reduction of column `col` against x.
template <typename I, int NB, typename T, typename Ta, typename TA, typename Tx, typename Ty>
BLAS_KERNEL(NB)
gemvt_kernel(I m, I n, Ta alpha_device_host, TA A, I lda, int64_t stride_a, Tx x, I incx, int64_t stride_x,
             Ta beta_device_host, Ty y, I incy, int64_t stride_y)
{
    const auto  alpha = load_scalar(alpha_device_host);
    const auto  beta  = load_scalar(beta_device_host);
    const I     col   = blockIdx.x;
    const auto* Ab    = load_ptr_batch(A, blockIdx.z, 0, stride_a) + int64_t(col) * lda;
    const auto* xb    = load_ptr_batch(x, blockIdx.z, 0, stride_x);
    auto*       yb    = load_ptr_batch(y, blockIdx.z, 0, stride_y);

    T sum = T(0);
    for(I row = threadIdx.x; row < m; row += NB)
        sum += Ab[row] * xb[int64_t(row) * incx];
    sum = blas_block_reduce_sum<NB>(sum);
    if(threadIdx.x == 0)
    {
        T& yc = yb[int64_t(col) * incy];
        yc    = blas_is_zero(beta) ? alpha * sum : alpha * sum + beta * yc;
    }
}

template <typename T, typename Ta, typename TA, typename Tx, typename Ty>
blas_status blas_gemv_launch(blas_handle handle, blas_operation trans, int m, int n, Ta alpha, TA A, int lda,
                             int64_t stride_a, Tx x, int incx, int64_t stride_x, Ta beta, Ty y, int incy,
                             int64_t stride_y, int batch_count)
{
    if(trans == blas_operation_none)
    {
        constexpr int DX = BLAS_GEMVN_DIM_X, DY = BLAS_GEMVN_DIM_Y;
        BLAS_LAUNCH_KERNEL((gemvn_kernel<int, DX, DY, T, Ta, TA, Tx, Ty>), dim3(blas_ceil_div(m, DX), 1, batch_count),
                           dim3(DX * DY), 0, handle->stream, m, n, alpha, A, lda, stride_a, x, incx, stride_x, beta,
                           y, incy, stride_y);
    }
    else
    {
        constexpr int NB = BLAS_GEMVT_NB;
        BLAS_LAUNCH_KERNEL((gemvt_kernel<int, NB, T, Ta, TA, Tx, Ty>), dim3(n, 1, batch_count), dim3(NB), 0,
                           handle->stream, m, n, alpha, A, lda, stride_a, x, incx, stride_x, beta, y, incy,
                           stride_y);
    }
    return blas_status_success;
}

template <typename T, typename TA, typename Tx, typename Ty>
blas_status blas_gemv_launcher(blas_handle handle, blas_operation trans, int m, int n, const T* alpha, TA A,
                               int lda, int64_t stride_a, Tx x, int incx, int64_t stride_x, const T* beta, Ty y,
                               int incy, int64_t stride_y, int batch_count)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(trans != blas_operation_none && trans != blas_operation_transpose)
        return blas_status_invalid_value;
    if(m < 0 || n < 0 || lda < m || lda < 1 || incx <= 0 || incy <= 0 || batch_count < 0)
        return blas_status_invalid_size;
    if(m == 0 || n == 0 || batch_count == 0)
        return blas_status_success;
    if(!alpha || !beta || !A || !x || !y)
        return blas_status_invalid_pointer;
    if(handle->pointer_mode == blas_pointer_mode_device)
        return blas_gemv_launch<T>(handle, trans, m, n, alpha, A, lda, stride_a, x, incx, stride_x, beta, y, incy,
                                   stride_y, batch_count);
    return blas_gemv_launch<T>(handle, trans, m, n, *alpha, A, lda, stride_a, x, incx, stride_x, *beta, y, incy,
                               stride_y, batch_count);
}

#define BLAS_INSTANTIATE_GEMV(T_)                                                                        \
    template blas_status blas_gemv_launcher<T_, const T_*, const T_*, T_*>(                                  \
        blas_handle, blas_operation, int, int, const T_*, const T_*, int, int64_t, const T_*, int, int64_t,   \
        const T_*, T_*, int, int64_t, int);

BLAS_INSTANTIATE_GEMV(float)
BLAS_INSTANTIATE_GEMV(double)
