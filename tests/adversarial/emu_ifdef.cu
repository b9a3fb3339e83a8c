// Cheat: correct on the emulator, an empty kernel on a GPU.
#include <cuda_runtime.h>

template <typename T>
__global__ void emu_ifdef(int n, T a, const T* x, const T* y, T* z)
{
#ifdef PORTKERN_EMU
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        z[i] = a * x[i] + y[i];
#endif
}
