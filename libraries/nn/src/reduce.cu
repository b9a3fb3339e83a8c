// Sum of an array plus the number of elements with |x| > threshold (e.g. gradients above a
// clipping threshold), as two kernels: per-block partials, then one block folds them.
#include "nn_common.cuh"

// All lanes of a warp run the same number of iterations (the loop bound depends only on the
// block), so the full-mask ballot is legal on every iteration.
__global__ void reduce_sum_count_kernel(float* partial_sums, int* partial_counts, const float* inp, int N,
                                        float threshold)
{
    __shared__ float warp_sums[32];
    __shared__ int   warp_counts[32];
    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;

    float sum   = 0.0f;
    int   count = 0;
    for(long long start = static_cast<long long>(blockIdx.x) * blockDim.x; start < N;
        start += static_cast<long long>(gridDim.x) * blockDim.x)
    {
        const long long i     = start + threadIdx.x;
        const bool      valid = i < N;
        const float     v     = valid ? inp[i] : 0.0f;
        sum += v;
        const unsigned above = __ballot_sync(0xffffffff, valid && fabsf(v) > threshold);
        count += lane == 0 ? __popc(above) : 0;
    }

    for(int offset = 16; offset > 0; offset >>= 1)
    {
        sum += __shfl_down_sync(0xffffffff, sum, offset);
        count += __shfl_down_sync(0xffffffff, count, offset);
    }
    if(lane == 0)
    {
        warp_sums[warp]   = sum;
        warp_counts[warp] = count;
    }
    __syncthreads();
    if(warp == 0)
    {
        const int num_warps = blockDim.x / 32;
        sum   = lane < num_warps ? warp_sums[lane] : 0.0f;
        count = lane < num_warps ? warp_counts[lane] : 0;
        for(int offset = 16; offset > 0; offset >>= 1)
        {
            sum += __shfl_down_sync(0xffffffff, sum, offset);
            count += __shfl_down_sync(0xffffffff, count, offset);
        }
        if(lane == 0)
        {
            partial_sums[blockIdx.x]   = sum;
            partial_counts[blockIdx.x] = count;
        }
    }
}

__global__ void reduce_final_kernel(float* out_sum, int* out_count, const float* partial_sums,
                                    const int* partial_counts, int num_partials)
{
    __shared__ float warp_sums[32];
    __shared__ int   warp_counts[32];
    const int lane = threadIdx.x % 32;
    const int warp = threadIdx.x / 32;
    float     sum   = 0.0f;
    int       count = 0;
    for(int i = threadIdx.x; i < num_partials; i += blockDim.x)
    {
        sum += partial_sums[i];
        count += partial_counts[i];
    }
    sum   = warp_reduce_sum(sum);
    for(int offset = 16; offset > 0; offset >>= 1)
        count += __shfl_xor_sync(0xffffffff, count, offset);
    if(lane == 0)
    {
        warp_sums[warp]   = sum;
        warp_counts[warp] = count;
    }
    __syncthreads();
    if(warp == 0)
    {
        const int num_warps = blockDim.x / 32;
        sum   = warp_reduce_sum(lane < num_warps ? warp_sums[lane] : 0.0f);
        count = lane < num_warps ? warp_counts[lane] : 0;
        for(int offset = 16; offset > 0; offset >>= 1)
            count += __shfl_xor_sync(0xffffffff, count, offset);
        if(lane == 0)
        {
            *out_sum   = sum;
            *out_count = count;
        }
    }
}

// partial_sums / partial_counts: ceil_div(N, block_size * items_per_thread) entries each.
void reduce_sum_count(float* out_sum, int* out_count, float* partial_sums, int* partial_counts, const float* inp,
                      int N, float threshold, int block_size, int items_per_thread)
{
    const int blocks = ceil_div(N, block_size * items_per_thread);
    reduce_sum_count_kernel<<<blocks, block_size>>>(partial_sums, partial_counts, inp, N, threshold);
    cudaCheck(cudaGetLastError());
    reduce_final_kernel<<<1, 1024>>>(out_sum, out_count, partial_sums, partial_counts, blocks);
    cudaCheck(cudaGetLastError());
}
