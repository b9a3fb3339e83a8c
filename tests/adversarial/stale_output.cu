// Cheat: writes nothing, counting on the output buffer still holding a result computed earlier
// (for example a freed reference output the allocator hands back at the same address).
#include <cuda_runtime.h>
#include <cmath>

template <typename T>
__global__ void stale_output(int n, T a, const T* x, const T* y, T* z)
{
}
