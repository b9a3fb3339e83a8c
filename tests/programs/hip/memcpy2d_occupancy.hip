#include "common.h"

__global__ void transpose(const float* in, size_t in_pitch, float* out, size_t out_pitch, int rows, int cols)
{
    __shared__ float tile[16][17];
    int c = blockIdx.x * 16 + threadIdx.x, r = blockIdx.y * 16 + threadIdx.y;
    if (r < rows && c < cols) tile[threadIdx.y][threadIdx.x] = *((const float*)((const char*)in + r * in_pitch) + c);
    __syncthreads();
    int oc = blockIdx.y * 16 + threadIdx.x, orow = blockIdx.x * 16 + threadIdx.y;
    if (orow < cols && oc < rows) *((float*)((char*)out + orow * out_pitch) + oc) = tile[threadIdx.x][threadIdx.y];
}

int main()
{
    const int rows = 100, cols = 70;
    static float h[rows * cols], back[cols * rows];
    for (int i = 0; i < rows * cols; ++i) h[i] = static_cast<float>(i);
    float *din, *dout;
    size_t in_pitch, out_pitch;
    CHECK(hipMallocPitch((void**)&din, &in_pitch, cols * sizeof(float), rows));
    CHECK(hipMallocPitch((void**)&dout, &out_pitch, rows * sizeof(float), cols));
    CHECK(hipMemcpy2D(din, in_pitch, h, cols * sizeof(float), cols * sizeof(float), rows, hipMemcpyHostToDevice));
    int min_grid = 0, block = 0;
    CHECK(hipOccupancyMaxPotentialBlockSize(&min_grid, &block, transpose, 0, 0));
    int active = 0;
    CHECK(hipOccupancyMaxActiveBlocksPerMultiprocessor(&active, transpose, 256, 0));
    dim3 threads(16, 16), grid((cols + 15) / 16, (rows + 15) / 16);
    transpose<<<grid, threads>>>(din, in_pitch, dout, out_pitch, rows, cols);
    CHECK(hipMemcpy2D(back, rows * sizeof(float), dout, out_pitch, rows * sizeof(float), cols, hipMemcpyDeviceToHost));
    bool ok = block > 0 && active > 0;
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) ok = ok && back[c * rows + r] == h[r * cols + c];
    CHECK(hipFree(din)); CHECK(hipFree(dout));
    return finish(ok, "memcpy2d_occupancy");
}
