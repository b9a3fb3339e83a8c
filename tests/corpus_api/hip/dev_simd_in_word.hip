#include <hip/hip_runtime.h>
#ifndef PORTKERN_SIMD_BASE
#define PORTKERN_SIMD_BASE
__host__ __device__ inline int portkern_simd_clamp(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }
__host__ __device__ inline int portkern_simd_abs(int v) { return v < 0 ? -v : v; }
#endif
#ifndef PORTKERN___VMAXU4
#define PORTKERN___VMAXU4
__host__ __device__ inline unsigned int portkern_vmaxu4(unsigned int a, unsigned int b)
{
    unsigned int r = 0;
    for(int i = 0; i < 4; ++i)
    {
        const unsigned int ua = (a >> (8 * i)) & 255u;
        const unsigned int ub = (b >> (8 * i)) & 255u;
        const int sa = (int)ua - (int)((ua & 128u) << 1);
        const int sb = (int)ub - (int)((ub & 128u) << 1);
        (void)sa; (void)sb;
        const int v = (int)(ua > ub ? ua : ub);
        r |= ((unsigned int)v & 255u) << (8 * i);
    }
    return r;
}
#endif
__global__ void pixels(const unsigned int* a, const unsigned int* b, unsigned int* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = portkern_vmaxu4(a[i], b[i]);
}
