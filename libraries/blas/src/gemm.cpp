// gemm: C := alpha * A * B + beta * C, column-major, A m x k, B k x n, C m x n.
#include "blas_block_sizes.hpp"
#include "blas_device_helpers.hpp"

// Shared-memory tiled: a block computes a BM x BN tile of C, staging BK-wide slabs of A and B in
// shared memory; each of its (BM/TM) x (BN/TN) threads accumulates TM x TN results in registers.
// A thread's rows are tx, tx + DX, ... so that neighbouring threads touch neighbouring rows: the
// shared-memory reads of A and the global writes of C are both contiguous across a wavefront.
template <typename I, int BM, int BN, int BK, int TM, int TN, typename T, typename Ta, typename TA, typename TC>
BLAS_KERNEL((BM / TM) * (BN / TN))
gemm_nn_kernel(I m, I n, I k, Ta alpha_device_host, TA A, I lda, int64_t stride_a, TA B, I ldb, int64_t stride_b,
               Ta beta_device_host, TC C, I ldc, int64_t stride_c)
{
    constexpr int DX = BM / TM;
    constexpr int DY = BN / TN;
    constexpr int NT = DX * DY;
    __shared__ T  As[BK][BM];
    __shared__ T  Bs[BK][BN + 1]; // +1: the column-wise stores of the B slab hit distinct banks

    const auto  alpha = load_scalar(alpha_device_host);
    const auto  beta  = load_scalar(beta_device_host);
    const auto* Ab    = load_ptr_batch(A, blockIdx.z, 0, stride_a);
    const auto* Bb    = load_ptr_batch(B, blockIdx.z, 0, stride_b);
    auto*       Cb    = load_ptr_batch(C, blockIdx.z, 0, stride_c);
    const int   tid   = threadIdx.x;
    const int   tx    = tid % DX;
    const int   ty    = tid / DX;
    const I     row0  = I(blockIdx.x) * BM;
    const I     col0  = I(blockIdx.y) * BN;

    T acc[TM][TN];
#pragma unroll
    for(int i = 0; i < TM; ++i)
#pragma unroll
        for(int j = 0; j < TN; ++j)
            acc[i][j] = T(0);

    for(I k0 = 0; k0 < k; k0 += BK)
    {
        // Stage the slabs; out-of-range elements are zero so the inner loop needs no bounds checks.
        for(int i = tid; i < BM * BK; i += NT)
        {
            const int r = i % BM, c = i / BM;
            const I   gr = row0 + r, gc = k0 + c;
            As[c][r]     = (gr < m && gc < k) ? Ab[gr + int64_t(gc) * lda] : T(0);
        }
        for(int i = tid; i < BK * BN; i += NT)
        {
            const int r = i % BK, c = i / BK;
            const I   gr = k0 + r, gc = col0 + c;
            Bs[r][c]     = (gr < k && gc < n) ? Bb[gr + int64_t(gc) * ldb] : T(0);
        }
        __syncthreads();

#pragma unroll
        for(int kk = 0; kk < BK; ++kk)
        {
            T a[TM], b[TN];
#pragma unroll
            for(int i = 0; i < TM; ++i)
                a[i] = As[kk][tx + i * DX];
#pragma unroll
            for(int j = 0; j < TN; ++j)
                b[j] = Bs[kk][ty + j * DY];
#pragma unroll
            for(int i = 0; i < TM; ++i)
#pragma unroll
                for(int j = 0; j < TN; ++j)
                    acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }

    const bool beta_zero = blas_is_zero(beta);
#pragma unroll
    for(int j = 0; j < TN; ++j)
    {
        const I col = col0 + ty + j * DY;
#pragma unroll
        for(int i = 0; i < TM; ++i)
        {
            const I row = row0 + tx + i * DX;
            if(row < m && col < n)
            {
                T& c = Cb[row + int64_t(col) * ldc];
                // BLAS: with beta == 0, C is not read (it may hold NaN).
                c = beta_zero ? alpha * acc[i][j] : alpha * acc[i][j] + beta * c;
            }
        }
    }
}

template <typename T, typename Ta, typename TA, typename TC>
blas_status blas_gemm_launch(blas_handle handle, int m, int n, int k, Ta alpha, TA A, int lda, int64_t stride_a,
                             TA B, int ldb, int64_t stride_b, Ta beta, TC C, int ldc, int64_t stride_c,
                             int batch_count)
{
    constexpr int BM = BLAS_GEMM_BM, BN = BLAS_GEMM_BN, BK = BLAS_GEMM_BK, TM = BLAS_GEMM_TM, TN = BLAS_GEMM_TN;
    const dim3    grid(blas_ceil_div(m, BM), blas_ceil_div(n, BN), batch_count);
    BLAS_LAUNCH_KERNEL((gemm_nn_kernel<int, BM, BN, BK, TM, TN, T, Ta, TA, TC>), grid, dim3((BM / TM) * (BN / TN)),
                       0, handle->stream, m, n, k, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc,
                       stride_c);
    return blas_status_success;
}

template <typename T, typename TA, typename TC>
blas_status blas_gemm_launcher(blas_handle handle, blas_operation trans_a, blas_operation trans_b, int m, int n,
                               int k, const T* alpha, TA A, int lda, int64_t stride_a, TA B, int ldb,
                               int64_t stride_b, const T* beta, TC C, int ldc, int64_t stride_c, int batch_count)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(trans_a != blas_operation_none || trans_b != blas_operation_none)
        return blas_status_invalid_value; // only the NN case is provided
    if(m < 0 || n < 0 || k < 0 || lda < m || ldb < k || ldc < m || lda < 1 || ldb < 1 || ldc < 1
       || batch_count < 0)
        return blas_status_invalid_size;
    if(m == 0 || n == 0 || batch_count == 0)
        return blas_status_success;
    if(!alpha || !beta || !A || !B || !C)
        return blas_status_invalid_pointer;
    if(handle->pointer_mode == blas_pointer_mode_device)
        return blas_gemm_launch<T>(handle, m, n, k, alpha, A, lda, stride_a, B, ldb, stride_b, beta, C, ldc,
                                   stride_c, batch_count);
    return blas_gemm_launch<T>(handle, m, n, k, *alpha, A, lda, stride_a, B, ldb, stride_b, *beta, C, ldc, stride_c,
                               batch_count);
}

#define BLAS_INSTANTIATE_GEMM(T_)                                                                        \
    template blas_status blas_gemm_launcher<T_, const T_*, T_*>(                                            \
        blas_handle, blas_operation, blas_operation, int, int, int, const T_*, const T_*, int, int64_t,      \
        const T_*, int, int64_t, const T_*, T_*, int, int64_t, int);                                         \
    template blas_status blas_gemm_launcher<T_, const T_* const*, T_* const*>(                              \
        blas_handle, blas_operation, blas_operation, int, int, int, const T_*, const T_* const*, int, int64_t, \
        const T_* const*, int, int64_t, const T_*, T_* const*, int, int64_t, int);

BLAS_INSTANTIATE_GEMM(float)
BLAS_INSTANTIATE_GEMM(double)
