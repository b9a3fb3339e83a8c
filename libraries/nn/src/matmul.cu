// Linear layer forward: out[N, OC] = inp[N, C] @ weight[OC, C]^T + bias[OC], row-major.
#include "nn_common.cuh"

// Shared-memory tiled: a TILE x TILE block computes a TILE x TILE tile of out, staging TILE-wide
// slabs of inp and weight. Both slabs are read along C, so both global loads are coalesced; the
// weight slab is read transposed from shared memory, hence its padding column.
template <int TILE>
__global__ void matmul_forward_kernel(float* out, const float* inp, const float* weight, const float* bias, int N,
                                      int C, int OC)
{
    __shared__ float inp_tile[TILE][TILE];
    __shared__ float w_tile[TILE][TILE + 1];
    const int tx   = threadIdx.x;
    const int ty   = threadIdx.y;
    const int row  = blockIdx.y * TILE + ty;
    const int oc   = blockIdx.x * TILE + tx;
    const int wrow = blockIdx.x * TILE + ty;

    float acc = 0.0f;
    for(int c0 = 0; c0 < C; c0 += TILE)
    {
        const int c = c0 + tx;
        inp_tile[ty][tx] = (row < N && c < C) ? inp[static_cast<long long>(row) * C + c] : 0.0f;
        w_tile[ty][tx]   = (wrow < OC && c < C) ? weight[static_cast<long long>(wrow) * C + c] : 0.0f;
        __syncthreads();
#pragma unroll
        for(int k = 0; k < TILE; ++k)
            acc += inp_tile[ty][k] * w_tile[tx][k];
        __syncthreads();
    }
    if(row < N && oc < OC)
        out[static_cast<long long>(row) * OC + oc] = acc + (bias != nullptr ? bias[oc] : 0.0f);
}

void matmul_forward(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC)
{
    constexpr int TILE = 16;
    const dim3    grid(ceil_div(OC, TILE), ceil_div(N, TILE));
    matmul_forward_kernel<TILE><<<grid, dim3(TILE, TILE)>>>(out, inp, weight, bias, N, C, OC);
    cudaCheck(cudaGetLastError());
}
