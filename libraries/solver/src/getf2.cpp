// getf2: unblocked LU factorization with partial pivoting, A = P * L * U, of an m x n matrix.
// On exit A holds L (unit diagonal, not stored) and U; ipiv the 1-based pivot rows; info the first
// zero pivot (1-based) or 0.
#include "solver_common.hpp"

// One block factors one matrix, column by column: pivot search (blas block iamax), row swap,
// scaling of the column below the diagonal, rank-1 update of the trailing matrix.
template <typename I, int NB, typename T, typename U>
SOLVER_KERNEL(NB) getf2_kernel(I m, I n, U A, I lda, int64_t stride_a, I* __restrict__ ipiv, int64_t stride_p,
                               I* __restrict__ info)
{
    __shared__ I s_pivot;
    __shared__ T s_pivot_value;
    T*           a     = load_ptr_batch(A, blockIdx.z, 0, stride_a);
    I*           piv   = ipiv + int64_t(blockIdx.z) * stride_p;
    const I      tid   = threadIdx.x;
    const I      steps = min(m, n);
    I            first_zero = 0;

    for(I j = 0; j < steps; ++j)
    {
        T* col_j = a + int64_t(j) * lda;

        // Pivot: row of largest |a(i, j)|, i >= j; ties go to the smallest row as in LAPACK.
        blas_index_value<T, I> best{T(0), I(-1)};
        for(I i = j + tid; i < m; i += NB)
            best = blas_iamax_pick(best, blas_index_value<T, I>{blas_abs(col_j[i]), i});
        best = blas_block_reduce_iamax<NB>(best);
        if(tid == 0)
        {
            s_pivot       = best.index;
            s_pivot_value = col_j[best.index];
            piv[j]        = best.index + 1;
        }
        __syncthreads();
        const I p           = s_pivot;
        const T pivot_value = s_pivot_value;
        if(pivot_value == T(0) && first_zero == 0)
            first_zero = j + 1;

        // Swap rows j and p across all columns.
        if(p != j)
            for(I c = tid; c < n; c += NB)
            {
                const T tmp             = a[j + int64_t(c) * lda];
                a[j + int64_t(c) * lda] = a[p + int64_t(c) * lda];
                a[p + int64_t(c) * lda] = tmp;
            }
        __syncthreads();

        // Multipliers below the diagonal (skipped for a zero pivot, as LAPACK does).
        if(pivot_value != T(0))
        {
            const T inv = T(1) / pivot_value;
            for(I i = j + 1 + tid; i < m; i += NB)
                col_j[i] *= inv;
        }
        __syncthreads();

        // Trailing update a(j+1:m, j+1:n) -= a(j+1:m, j) * a(j, j+1:n): a thread per row, so each
        // column's update is a contiguous read-modify-write across the block.
        for(I i = j + 1 + tid; i < m; i += NB)
        {
            const T l = col_j[i];
            for(I c = j + 1; c < n; ++c)
                a[i + int64_t(c) * lda] -= l * a[j + int64_t(c) * lda];
        }
        __syncthreads();
    }
    if(tid == 0)
        info[blockIdx.z] = first_zero;
}

template <typename T, typename U>
blas_status solver_getf2_launcher(blas_handle handle, int m, int n, U A, int lda, int64_t stride_a, int* ipiv,
                                  int64_t stride_p, int* info, int batch_count)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(m < 0 || n < 0 || lda < m || lda < 1 || batch_count < 0)
        return blas_status_invalid_size;
    if(m == 0 || n == 0 || batch_count == 0)
        return blas_status_success;
    if(!A || !ipiv || !info)
        return blas_status_invalid_pointer;
    constexpr int NB = SOLVER_GETF2_NB;
    SOLVER_LAUNCH_KERNEL((getf2_kernel<int, NB, T, U>), dim3(1, 1, batch_count), dim3(NB), 0, handle->stream, m, n,
                         A, lda, stride_a, ipiv, stride_p, info);
    return blas_status_success;
}

#define SOLVER_INSTANTIATE_GETF2(T_)                                                                       \
    template blas_status solver_getf2_launcher<T_, T_*>(blas_handle, int, int, T_*, int, int64_t, int*,        \
                                                        int64_t, int*, int);                                   \
    template blas_status solver_getf2_launcher<T_, T_* const*>(blas_handle, int, int, T_* const*, int, int64_t, \
                                                               int*, int64_t, int*, int);

SOLVER_INSTANTIATE_GETF2(float)
SOLVER_INSTANTIATE_GETF2(double)
