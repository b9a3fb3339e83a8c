// Matrix transpose through a padded shared-memory tile: out[cols, rows] = inp[rows, cols]^T.
#include "nn_common.cuh"

// A TILE x BLOCK_ROWS block moves a TILE x TILE tile; both global reads and writes are along rows,
// and the +1 column keeps the transposed shared-memory reads free of bank conflicts.
template <int TILE, int BLOCK_ROWS>
__global__ void transpose_kernel(float* out, const float* inp, int rows, int cols)
{
    __shared__ float tile[TILE][TILE + 1];
    int x = blockIdx.x * TILE + threadIdx.x;
    int y = blockIdx.y * TILE + threadIdx.y;
    for(int j = 0; j < TILE; j += BLOCK_ROWS)
        if(x < cols && y + j < rows)
            tile[threadIdx.y + j][threadIdx.x] = inp[static_cast<long long>(y + j) * cols + x];
    __syncthreads();
    x = blockIdx.y * TILE + threadIdx.x;
    y = blockIdx.x * TILE + threadIdx.y;
    for(int j = 0; j < TILE; j += BLOCK_ROWS)
        if(x < rows && y + j < cols)
            out[static_cast<long long>(y + j) * rows + x] = tile[threadIdx.x][threadIdx.y + j];
}

void transpose(float* out, const float* inp, int rows, int cols)
{
    constexpr int TILE = 32, BLOCK_ROWS = 8;
    transpose_kernel<TILE, BLOCK_ROWS><<<dim3(ceil_div(cols, TILE), ceil_div(rows, TILE)), dim3(TILE, BLOCK_ROWS)>>>(
        out, inp, rows, cols);
    cudaCheck(cudaGetLastError());
}
