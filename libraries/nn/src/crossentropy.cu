// Cross-entropy forward: losses[i] = -log(probs[i, targets[i]]).
#include "nn_common.cuh"

__global__ void crossentropy_forward_kernel(float* losses, const float* probs, const int* targets, int N, int V)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if(i < N)
        losses[i] = -logf(probs[static_cast<long long>(i) * V + targets[i]]);
}

void crossentropy_forward(float* losses, const float* probs, const int* targets, int N, int V, int block_size)
{
    crossentropy_forward_kernel<<<ceil_div(N, block_size), block_size>>>(losses, probs, targets, N, V);
    cudaCheck(cudaGetLastError());
}
