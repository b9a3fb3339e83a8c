// Row softmax: one block per row, block-wide max and sum through warp shuffles and shared memory.
#include "nn_common.cuh"

#include <cfloat>

// Reduces over the block: warp shuffles, then one value per warp through shared memory.
// shared must hold blockDim.x / 32 floats.
__device__ float block_reduce_max(float val, float* shared)
{
    const int lane = threadIdx.x % WARP_SIZE;
    const int warp = threadIdx.x / WARP_SIZE;
    const int num_warps = blockDim.x / WARP_SIZE;
    val = warp_reduce_max(val);
    if(lane == 0)
        shared[warp] = val;
    __syncthreads();
    val = lane < num_warps ? shared[lane] : -FLT_MAX;
    return warp_reduce_max(val);
}

__device__ float block_reduce_sum_down(float val, float* shared)
{
    const int lane = threadIdx.x % WARP_SIZE;
    const int warp = threadIdx.x / WARP_SIZE;
    const int num_warps = blockDim.x / WARP_SIZE;
    for(int offset = WARP_SIZE / 2; offset > 0; offset /= 2)
        val += __shfl_down_sync(0xffffffff, val, offset);
    if(lane == 0)
        shared[warp] = val;
    __syncthreads();
    val = lane < num_warps ? shared[lane] : 0.0f;
    for(int offset = WARP_SIZE / 2; offset > 0; offset /= 2)
        val += __shfl_down_sync(0xffffffff, val, offset);
    // Lane 0 of every warp now holds the total; hand it to all lanes.
    return __shfl_sync(0xffffffff, val, 0);
}

// Dynamic shared memory: 2 * (blockDim.x / 32) floats (one slot per warp for each reduction).
__global__ void softmax_forward_kernel(float* out, const float* inp, int N, int C)
{
    extern __shared__ float shared[];
    const int    row = blockIdx.x;
    const float* x   = inp + static_cast<long long>(row) * C;
    float*       y   = out + static_cast<long long>(row) * C;

    float maxval = -FLT_MAX;
    for(int i = threadIdx.x; i < C; i += blockDim.x)
        maxval = fmaxf(maxval, __ldg(x + i));
    maxval = block_reduce_max(maxval, shared);

    float sum = 0.0f;
    for(int i = threadIdx.x; i < C; i += blockDim.x)
    {
        const float e = expf(__ldg(x + i) - maxval);
        y[i]          = e;
        sum += e;
    }
    sum = block_reduce_sum_down(sum, shared + blockDim.x / WARP_SIZE);

    const float inv = 1.0f / sum;
    for(int i = threadIdx.x; i < C; i += blockDim.x)
        y[i] *= inv;
}

void softmax_forward(float* out, const float* inp, int N, int C, int block_size)
{
    const size_t shared_bytes = 2 * (block_size / WARP_SIZE) * sizeof(float);
    softmax_forward_kernel<<<N, block_size, shared_bytes>>>(out, inp, N, C);
    cudaCheck(cudaGetLastError());
}
