// potf2: unblocked Cholesky factorization A = L * L^T of the lower triangle of an n x n symmetric
// positive definite matrix. The strict upper triangle is not touched. info: the order of the first
// leading minor that is not positive definite (1-based), or 0.
#include "solver_common.hpp"

// One block factors one matrix, left-looking, column by column: a dot product for the diagonal
// (blas block reduction), then a gemv and a scaling for the column below it.
template <typename I, int NB, typename T, typename U>
SOLVER_KERNEL(NB) potf2_kernel(I n, U A, I lda, int64_t stride_a, I* __restrict__ info)
{
    __shared__ T s_diag;
    T*           a   = load_ptr_batch(A, blockIdx.z, 0, stride_a);
    const I      tid = threadIdx.x;
    I            bad = 0;

    for(I j = 0; j < n; ++j)
    {
        // a(j, j) - a(j, 0:j) . a(j, 0:j)
        T partial = T(0);
        for(I k = tid; k < j; k += NB)
        {
            const T v = a[j + int64_t(k) * lda];
            partial += v * v;
        }
        partial = blas_block_reduce_sum<NB>(partial);
        if(tid == 0)
            s_diag = a[j + int64_t(j) * lda] - partial;
        __syncthreads();
        const T ajj = s_diag;
        if(!(ajj > T(0))) // also catches NaN
        {
            if(tid == 0)
                a[j + int64_t(j) * lda] = ajj;
            bad = j + 1;
            break;
        }
        const T root = sqrt(ajj);

        // a(j+1:n, j) = (a(j+1:n, j) - a(j+1:n, 0:j) * a(j, 0:j)^T) / root
        for(I i = j + 1 + tid; i < n; i += NB)
        {
            T s = a[i + int64_t(j) * lda];
            for(I k = 0; k < j; ++k)
                s -= a[i + int64_t(k) * lda] * a[j + int64_t(k) * lda];
            a[i + int64_t(j) * lda] = s / root;
        }
        if(tid == 0)
            a[j + int64_t(j) * lda] = root;
        __syncthreads();
    }
    if(tid == 0)
        info[blockIdx.z] = bad;
}

template <typename T, typename U>
blas_status solver_potf2_launcher(blas_handle handle, blas_fill uplo, int n, U A, int lda, int64_t stride_a,
                                  int* info, int batch_count)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(uplo != blas_fill_lower)
        return blas_status_invalid_value; // only the lower factorization is provided
    if(n < 0 || lda < n || lda < 1 || batch_count < 0)
        return blas_status_invalid_size;
    if(n == 0 || batch_count == 0)
        return blas_status_success;
    if(!A || !info)
        return blas_status_invalid_pointer;
    constexpr int NB = SOLVER_POTF2_NB;
    SOLVER_LAUNCH_KERNEL((potf2_kernel<int, NB, T, U>), dim3(1, 1, batch_count), dim3(NB), 0, handle->stream, n, A,
                         lda, stride_a, info);
    return blas_status_success;
}

#define SOLVER_INSTANTIATE_POTF2(T_)                                                                       \
    template blas_status solver_potf2_launcher<T_, T_*>(blas_handle, blas_fill, int, T_*, int, int64_t, int*, int); \
    template blas_status solver_potf2_launcher<T_, T_* const*>(blas_handle, blas_fill, int, T_* const*, int,    \
                                                               int64_t, int*, int);

SOLVER_INSTANTIATE_POTF2(float)
SOLVER_INSTANTIATE_POTF2(double)
