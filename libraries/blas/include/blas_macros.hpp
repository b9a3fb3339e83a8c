// Library-wide declarations: kernel/helper/launch macros, status codes and enums, the handle.
#pragma once

#include <hip/hip_runtime.h>
#include <cstdint>

// Every kernel is a file-local template with its block size as launch bound, so the compiler may
// assume at most NB threads per block when allocating registers.
#define BLAS_KERNEL(NB_) static __global__ __launch_bounds__(NB_) void

// Small device helpers are always inlined: they sit in hot loops of every kernel.
#define BLAS_DEVICE_ILF __device__ __forceinline__

typedef enum blas_status_
{
    blas_status_success         = 0,
    blas_status_invalid_handle  = 1,
    blas_status_invalid_pointer = 2,
    blas_status_invalid_size    = 3,
    blas_status_invalid_value   = 4,
    blas_status_launch_failure  = 5,
} blas_status;

typedef enum blas_pointer_mode_
{
    blas_pointer_mode_host   = 0, // scalars are host values, passed to kernels by value
    blas_pointer_mode_device = 1, // scalars live in device memory, kernels read them
} blas_pointer_mode;

typedef enum blas_operation_
{
    blas_operation_none      = 111,
    blas_operation_transpose = 112,
} blas_operation;

typedef enum blas_fill_
{
    blas_fill_upper = 121,
    blas_fill_lower = 122,
} blas_fill;

struct blas_handle_
{
    hipStream_t       stream       = nullptr;
    blas_pointer_mode pointer_mode = blas_pointer_mode_host;
    int               wavefront    = 64; // warpSize of the device the handle was created for
};
typedef blas_handle_* blas_handle;

// Launch through hipLaunchKernelGGL; a grid with a zero dimension is skipped (nothing to do, and a
// zero-sized launch is an error on some runtimes). Wrap a templated kernel name in parentheses.
#define BLAS_LAUNCH_KERNEL(kernel_, grid_, block_, shmem_, stream_, ...)                           \
    do                                                                                              \
    {                                                                                               \
        const dim3 blas_grid_ = (grid_);                                                            \
        if(blas_grid_.x != 0 && blas_grid_.y != 0 && blas_grid_.z != 0)                             \
        {                                                                                           \
            hipLaunchKernelGGL(kernel_, blas_grid_, (block_), (shmem_), (stream_), __VA_ARGS__);    \
            if(hipGetLastError() != hipSuccess)                                                     \
                return blas_status_launch_failure;                                                  \
        }                                                                                           \
    } while(0)

// Early-outs shared by the launchers.
#define BLAS_RETURN_IF_NULL_HANDLE(h_) \
    do                                 \
    {                                  \
        if(!(h_))                      \
            return blas_status_invalid_handle; \
    } while(0)

template <typename I>
inline I blas_ceil_div(I a, I b)
{
    return (a + b - 1) / b;
}
