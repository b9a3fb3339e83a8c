// Device helpers shared by every routine (and by the solver library): batch pointer and scalar
// loading, wavefront and block reductions.
#pragma once

#include "blas_macros.hpp"

#include <hip/hip_fp16.h>

// ---- batch pointers: one kernel body serves plain, strided-batched and batched (array of pointers)
// Plain and strided-batched: a base pointer plus batch * stride (stride 0 for plain).
template <typename T>
BLAS_DEVICE_ILF T* load_ptr_batch(T* p, int64_t batch, int64_t offset, int64_t stride)
{
    return p + offset + batch * stride;
}

// Batched: an array of per-batch pointers; the stride is unused.
template <typename T>
BLAS_DEVICE_ILF T* load_ptr_batch(T* const* p, int64_t batch, int64_t offset, int64_t)
{
    return p[batch] + offset;
}

// ---- scalars: by value (host pointer mode) or through a device pointer (device pointer mode)
template <typename T>
BLAS_DEVICE_ILF T load_scalar(T value)
{
    return value;
}

template <typename T>
BLAS_DEVICE_ILF T load_scalar(const T* device_ptr)
{
    return *device_ptr;
}

// ---- arithmetic helpers that also cover __half
template <typename T>
BLAS_DEVICE_ILF bool blas_is_zero(T v)
{
    return v == T(0);
}

template <>
BLAS_DEVICE_ILF bool blas_is_zero(__half v)
{
    return __half2float(v) == 0.0f;
}

template <typename Tex, typename T>
BLAS_DEVICE_ILF Tex blas_convert(T v)
{
    return static_cast<Tex>(v);
}

template <>
BLAS_DEVICE_ILF float blas_convert<float, __half>(__half v)
{
    return __half2float(v);
}

template <>
BLAS_DEVICE_ILF __half blas_convert<__half, float>(float v)
{
    return __float2half(v);
}

template <typename T>
BLAS_DEVICE_ILF T blas_abs(T v)
{
    return v < T(0) ? -v : v;
}

// ---- reductions
// Sum over one wavefront; the total ends up in lane 0. warpSize is 64 on CDNA and 32 elsewhere,
// so the loop bound is read at run time.
template <typename T>
BLAS_DEVICE_ILF T blas_wavefront_reduce_sum(T val)
{
    for(int offset = warpSize / 2; offset > 0; offset >>= 1)
        val += __shfl_down(val, offset);
    return val;
}

// Sum over a 1-D block of NB threads; the total is valid in thread 0. Uses NB / 32 words of shared
// memory (enough for the smallest wavefront). Ends with a barrier, so callers may loop over it.
template <int NB, typename T>
BLAS_DEVICE_ILF T blas_block_reduce_sum(T val)
{
    __shared__ T wave_sums[(NB + 31) / 32];
    const int lane = threadIdx.x % warpSize;
    const int wave = threadIdx.x / warpSize;

    val = blas_wavefront_reduce_sum(val);
    if(lane == 0)
        wave_sums[wave] = val;
    __syncthreads();

    const int num_waves = (NB + warpSize - 1) / warpSize;
    val = (threadIdx.x < num_waves) ? wave_sums[threadIdx.x] : T(0);
    if(wave == 0)
        val = blas_wavefront_reduce_sum(val);
    __syncthreads();
    return val;
}

// (value, index) pair of a max-abs search. Ties go to the smallest index, as BLAS iamax requires.
template <typename T, typename I>
struct blas_index_value
{
    T value; // |x|
    I index; // 0-based; -1 marks "no element"
};

template <typename T, typename I>
BLAS_DEVICE_ILF blas_index_value<T, I> blas_iamax_pick(blas_index_value<T, I> a, blas_index_value<T, I> b)
{
    if(b.index < 0)
        return a;
    if(a.index < 0)
        return b;
    if(b.value > a.value || (b.value == a.value && b.index < a.index))
        return b;
    return a;
}

template <typename T, typename I>
BLAS_DEVICE_ILF blas_index_value<T, I> blas_wavefront_reduce_iamax(blas_index_value<T, I> x)
{
    for(int offset = warpSize / 2; offset > 0; offset >>= 1)
    {
        blas_index_value<T, I> other;
        other.value = __shfl_down(x.value, offset);
        other.index = __shfl_down(x.index, offset);
        x           = blas_iamax_pick(x, other);
    }
    return x;
}

// Max-abs (value, index) over a 1-D block of NB threads; valid in thread 0. Ends with a barrier, so
// callers may loop over it.
template <int NB, typename T, typename I>
BLAS_DEVICE_ILF blas_index_value<T, I> blas_block_reduce_iamax(blas_index_value<T, I> x)
{
    __shared__ T wave_values[(NB + 31) / 32];
    __shared__ I wave_indices[(NB + 31) / 32];
    const int lane = threadIdx.x % warpSize;
    const int wave = threadIdx.x / warpSize;

    x = blas_wavefront_reduce_iamax(x);
    if(lane == 0)
    {
        wave_values[wave]  = x.value;
        wave_indices[wave] = x.index;
    }
    __syncthreads();

    const int num_waves = (NB + warpSize - 1) / warpSize;
    if(threadIdx.x < num_waves)
    {
        x.value = wave_values[threadIdx.x];
        x.index = wave_indices[threadIdx.x];
    }
    else
    {
        x.value = T(0);
        x.index = -1;
    }
    if(wave == 0)
        x = blas_wavefront_reduce_iamax(x);
    // The slots are reused when a caller loops (the solver's pivot search): nobody may overwrite
    // them before every wavefront has read its value.
    __syncthreads();
    return x;
}

// ---- host-side helpers of the launchers
template <typename T>
inline bool blas_is_zero_host(const T& v)
{
    return v == T(0);
}

inline bool blas_is_zero_host(const __half& v)
{
    return static_cast<float>(v) == 0.0f;
}
