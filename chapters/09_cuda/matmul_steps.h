/// @file matmul_steps.h
/// @brief The matrix multiply, step by step on the GPU: a naive kernel, then a shared-memory tiled one.
///
/// Both compute chapter 04's linear layer, out (N, OC) = inp (N, C) @ weight (C, OC) + bias (OC),
/// and are tested against it; the benchmark (ch09_bench) times them next to cuBLAS, which is what
/// CudaBackend uses. They are here to be read, not to be fast: see the chapter README for the
/// walk from one to the next and for why cuBLAS is still several times faster.
#pragma once

namespace gpt2::cuda {

/// Step 1: one thread per output element, reading its row of inp and its column of weight
/// straight from global memory. bias may be null. (16 x 16 threads per block.)
void matmul_naive(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC);

/// Step 2: 32 x 32 tiles of inp and weight staged in shared memory, each element loaded from
/// global memory once per tile instead of once per multiply-add; each thread computes a 4 x 1
/// column of outputs (register blocking). bias may be null.
void matmul_tiled(float* out, const float* inp, const float* weight, const float* bias, int N, int C, int OC);

}  // namespace gpt2::cuda
