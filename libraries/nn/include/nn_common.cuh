// Shared helpers of the nn kernels: warp-level reductions written for 32-lane warps, launch checks.
#pragma once

#include <cuda_runtime.h>
#include <cstdio>
#include <cstdlib>

#define WARP_SIZE 32

// Host-side: abort with the call site on any CUDA error (training code has no recovery path).
#define cudaCheck(call_)                                                                        \
    do                                                                                          \
    {                                                                                           \
        cudaError_t err_ = (call_);                                                             \
        if(err_ != cudaSuccess)                                                                 \
        {                                                                                       \
            fprintf(stderr, "CUDA error %s at %s:%d\n", cudaGetErrorString(err_), __FILE__, __LINE__); \
            exit(EXIT_FAILURE);                                                                 \
        }                                                                                       \
    } while(0)

inline int ceil_div(int a, int b)
{
    return (a + b - 1) / b;
}

__device__ __forceinline__ float warp_reduce_sum(float val)
{
    for(int offset = 16; offset > 0; offset >>= 1)
        val += __shfl_xor_sync(0xffffffff, val, offset);
    return val;
}

__device__ __forceinline__ float warp_reduce_max(float val)
{
    for(int offset = 16; offset > 0; offset >>= 1)
        val = fmaxf(val, __shfl_xor_sync(0xffffffff, val, offset));
    return val;
}
