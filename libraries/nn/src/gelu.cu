// GELU (tanh approximation) forward and backward.
#include "nn_common.cuh"

#include <cmath>

#define GELU_SCALING_FACTOR 0.7978845608028654f // sqrt(2 / pi)

__device__ __forceinline__ float gelu(float x)
{
    const float cube = 0.044715f * x * x * x;
    return 0.5f * x * (1.0f + tanhf(GELU_SCALING_FACTOR * (x + cube)));
}

// Four elements per thread through float4 loads and stores; the last N % 4 elements go one by one.
__global__ void gelu_forward_kernel(float* out, const float* inp, int N)
{
    const int i = (blockIdx.x * blockDim.x + threadIdx.x) * 4;
    if(i + 3 < N)
    {
        const float4 x = __ldg(reinterpret_cast<const float4*>(inp + i));
        float4       y;
        y.x = gelu(x.x);
        y.y = gelu(x.y);
        y.z = gelu(x.z);
        y.w = gelu(x.w);
        *reinterpret_cast<float4*>(out + i) = y;
    }
    else
    {
        for(int j = i; j < N; ++j)
            out[j] = gelu(__ldg(inp + j));
    }
}

__global__ void gelu_backward_kernel(float* dinp, const float* inp, const float* dout, int N)
{
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if(i < N)
    {
        const float x         = __ldg(inp + i);
        const float cube      = 0.044715f * x * x * x;
        const float tanh_arg  = GELU_SCALING_FACTOR * (x + cube);
        const float tanh_out  = tanhf(tanh_arg);
        const float cosh_out  = coshf(tanh_arg);
        const float sech2     = 1.0f / (cosh_out * cosh_out);
        const float local_grad = 0.5f * (1.0f + tanh_out)
                                 + x * 0.5f * sech2 * GELU_SCALING_FACTOR * (1.0f + 3.0f * 0.044715f * x * x);
        dinp[i] = local_grad * __ldg(dout + i);
    }
}

void gelu_forward(float* out, const float* inp, int N, int block_size)
{
    gelu_forward_kernel<<<ceil_div(N, block_size * 4), block_size>>>(out, inp, N);
    cudaCheck(cudaGetLastError());
}

void gelu_backward(float* dinp, const float* inp, const float* dout, int N, int block_size)
{
    gelu_backward_kernel<<<ceil_div(N, block_size), block_size>>>(dinp, inp, dout, N);
    cudaCheck(cudaGetLastError());
}
