// Solver-wide declarations. The solver builds on the blas library: its kernels use the blas
// device helpers (batch pointers, block reductions) the way LAPACK routines call BLAS.
#pragma once

#include "blas_device_helpers.hpp"

// Solver kernels are file-local templates with their block size as launch bound.
#define SOLVER_KERNEL(NB_) static __global__ __launch_bounds__(NB_) void

// Launch through the blas launch macro: zero-sized grids skipped, launch errors returned.
#define SOLVER_LAUNCH_KERNEL(kernel_, grid_, block_, shmem_, stream_, ...) \
    BLAS_LAUNCH_KERNEL(kernel_, grid_, block_, shmem_, stream_, __VA_ARGS__)

// Block sizes the solver launches with.
constexpr int SOLVER_LASWP_NB = 256;
constexpr int SOLVER_GETF2_NB = 256;
constexpr int SOLVER_POTF2_NB = 256;
constexpr int SOLVER_COPY_DIM_X = 32;
constexpr int SOLVER_COPY_DIM_Y = 8;

// Which part of a matrix a copy touches (LAPACK lacpy's uplo).
constexpr int SOLVER_COPY_FULL  = 0;
constexpr int SOLVER_COPY_LOWER = 1;
constexpr int SOLVER_COPY_UPPER = 2;
