// trsv: solve op(A) * x = b in place (x holds b on entry), A triangular n x n, non-unit diagonal.
//
// One kernel launch solves the whole system: block-row r of x is solved by one thread block,
// which first applies every already-solved block of x (waiting on a per-block "done" flag) and
// then substitutes through its diagonal block. Blocks take row-blocks in the order they start
// (an atomic ticket), so a block only ever waits on blocks that are already running: no deadlock
// whatever order the hardware schedules blocks in.
#include "blas_block_sizes.hpp"
#include "blas_device_helpers.hpp"

// flags per batch: [ticket counter, done flag of each row-block]; must be zero before the solve.
template <typename I, int NB>
BLAS_KERNEL(NB) trsv_flags_init_kernel(I count, I* __restrict__ flags)
{
    const I i = blockIdx.x * NB + threadIdx.x;
    if(i < count)
        flags[i] = 0;
}

template <typename I, int NB, bool UPPER, typename T, typename TA, typename Tx>
BLAS_KERNEL(NB) trsv_kernel(I n, TA A, I lda, int64_t stride_a, Tx x, I incx, int64_t stride_x, I* flags)
{
    __shared__ T  xs[NB];
    __shared__ I  s_ticket;
    const I       n_blocks    = (n + NB - 1) / NB;
    I*            batch_flags = flags + int64_t(blockIdx.z) * (n_blocks + 1);
    const auto*   Ab          = load_ptr_batch(A, blockIdx.z, 0, stride_a);
    auto*         xb          = load_ptr_batch(x, blockIdx.z, 0, stride_x);

    if(threadIdx.x == 0)
        s_ticket = atomicAdd(&batch_flags[0], I(1));
    __syncthreads();
    const I    ticket = s_ticket;
    const I    rb     = UPPER ? n_blocks - 1 - ticket : ticket;
    const I    row0   = rb * NB;
    const I    rows   = min(I(NB), n - row0);
    const I    row    = row0 + threadIdx.x;
    const bool active = threadIdx.x < rows;

    // Contributions of the row-blocks solved before this one, in solve order.
    T sum = T(0);
    for(I k = 0; k < ticket; ++k)
    {
        const I cb = UPPER ? n_blocks - 1 - k : k;
        if(threadIdx.x == 0)
            while(atomicAdd(&batch_flags[1 + cb], I(0)) == 0)
            {
            }
        __syncthreads();
        const I col0 = cb * NB;
        const I cols = min(I(NB), n - col0);
        // Volatile: these values were written by another block after this one started.
        if(threadIdx.x < cols)
            xs[threadIdx.x] = reinterpret_cast<volatile T*>(xb)[int64_t(col0 + threadIdx.x) * incx];
        __syncthreads();
        if(active)
            for(I j = 0; j < cols; ++j)
                sum += Ab[row + int64_t(col0 + j) * lda] * xs[j];
        __syncthreads();
    }

    // Substitution through the diagonal block: one unknown finished per step.
    T b = active ? xb[int64_t(row) * incx] - sum : T(0);
    for(I s = 0; s < rows; ++s)
    {
        const I j = UPPER ? rows - 1 - s : s;
        if(threadIdx.x == j)
        {
            b     = b / Ab[row + int64_t(row) * lda];
            xs[j] = b;
        }
        __syncthreads();
        const bool pending = UPPER ? (I(threadIdx.x) < j) : (I(threadIdx.x) > j && active);
        if(pending)
            b -= Ab[row + int64_t(row0 + j) * lda] * xs[j];
    }
    if(active)
        xb[int64_t(row) * incx] = b;

    // Publish: every thread's x is visible device-wide before the done flag is.
    __threadfence();
    __syncthreads();
    if(threadIdx.x == 0)
        atomicExch(&batch_flags[1 + rb], I(1));
}

// flags: (ceil(n / NB) + 1) * batch_count ints of device memory.
template <typename T, typename TA, typename Tx>
blas_status blas_trsv_launcher(blas_handle handle, blas_fill uplo, int n, TA A, int lda, int64_t stride_a, Tx x,
                               int incx, int64_t stride_x, int batch_count, int* flags)
{
    BLAS_RETURN_IF_NULL_HANDLE(handle);
    if(uplo != blas_fill_lower && uplo != blas_fill_upper)
        return blas_status_invalid_value;
    if(n < 0 || lda < n || lda < 1 || incx <= 0 || batch_count < 0)
        return blas_status_invalid_size;
    if(n == 0 || batch_count == 0)
        return blas_status_success;
    if(!A || !x || !flags)
        return blas_status_invalid_pointer;
    constexpr int NB       = BLAS_TRSV_NB;
    const int     n_blocks = blas_ceil_div(n, NB);
    const int     n_flags  = (n_blocks + 1) * batch_count;
    BLAS_LAUNCH_KERNEL((trsv_flags_init_kernel<int, 256>), dim3(blas_ceil_div(n_flags, 256)), dim3(256), 0,
                       handle->stream, n_flags, flags);
    const dim3 grid(n_blocks, 1, batch_count);
    if(uplo == blas_fill_upper)
        BLAS_LAUNCH_KERNEL((trsv_kernel<int, NB, true, T, TA, Tx>), grid, dim3(NB), 0, handle->stream, n, A, lda,
                           stride_a, x, incx, stride_x, flags);
    else
        BLAS_LAUNCH_KERNEL((trsv_kernel<int, NB, false, T, TA, Tx>), grid, dim3(NB), 0, handle->stream, n, A, lda,
                           stride_a, x, incx, stride_x, flags);
    return blas_status_success;
}

#define BLAS_INSTANTIATE_TRSV(T_)                                                                        \
    template blas_status blas_trsv_launcher<T_, const T_*, T_*>(blas_handle, blas_fill, int, const T_*, int, \
                                                                int64_t, T_*, int, int64_t, int, int*);

BLAS_INSTANTIATE_TRSV(float)
BLAS_INSTANTIATE_TRSV(double)
