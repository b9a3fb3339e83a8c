// Stand-in for the header rocBLAS's CMake generates from its project version.
#pragma once
#define ROCBLAS_VERSION_MAJOR 4
#define ROCBLAS_VERSION_MINOR 3
#define ROCBLAS_VERSION_PATCH 0
#define ROCBLAS_VERSION_TWEAK 0
