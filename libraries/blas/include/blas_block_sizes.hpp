// Block sizes the library launches with. Tuned defaults; the tuner may override them per target.
#pragma once

// Level 1
constexpr int BLAS_AXPY_NB  = 256;
constexpr int BLAS_SCAL_NB  = 256;
constexpr int BLAS_COPY_NB  = 256;
constexpr int BLAS_SWAP_NB  = 256;
constexpr int BLAS_ROT_NB   = 512;
constexpr int BLAS_DOT_NB   = 512;
constexpr int BLAS_DOT_WIN  = 4; // elements each thread of a dot reduces before the block reduction
constexpr int BLAS_NRM2_NB  = 512;
constexpr int BLAS_ASUM_NB  = 512;
constexpr int BLAS_IAMAX_NB = 1024;
constexpr int BLAS_REDUCE_WIN = 4;

// Block size of the second stage of every two-stage reduction.
constexpr int BLAS_REDUCE_PART2_NB = 1024;

// Wavefront-32 devices get smaller reduction blocks: the same number of wavefronts per block.
constexpr int BLAS_DOT_NB_WAVE32 = 256;

// Level 2
constexpr int BLAS_GEMVN_DIM_X = 64;
constexpr int BLAS_GEMVN_DIM_Y = 16;
constexpr int BLAS_GEMVT_NB    = 256;
constexpr int BLAS_GER_DIM_X   = 128;
constexpr int BLAS_GER_DIM_Y   = 4;
constexpr int BLAS_GER_WIN     = 4;
constexpr int BLAS_TRSV_NB     = 64;

// Level 3 (gemm): block tile BM x BN, k-slab BK, each thread computes TM x TN results.
constexpr int BLAS_GEMM_BM = 64;
constexpr int BLAS_GEMM_BN = 64;
constexpr int BLAS_GEMM_BK = 16;
constexpr int BLAS_GEMM_TM = 4;
constexpr int BLAS_GEMM_TN = 4;
