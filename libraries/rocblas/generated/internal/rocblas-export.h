// Stand-in for the header rocBLAS's CMake generates (generate_export_header): the export and
// deprecation attributes. Kernel units compile against it the way the library's own build does.
#pragma once
#define ROCBLAS_EXPORT __attribute__((visibility("default")))
#define ROCBLAS_NO_EXPORT __attribute__((visibility("hidden")))
#define ROCBLAS_DEPRECATED __attribute__((__deprecated__))
#define ROCBLAS_DEPRECATED_EXPORT ROCBLAS_EXPORT ROCBLAS_DEPRECATED
#define ROCBLAS_DEPRECATED_NO_EXPORT ROCBLAS_NO_EXPORT ROCBLAS_DEPRECATED
