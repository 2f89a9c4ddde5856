/// @file exercises/09_cuda/exercise.h
/// @brief Exercises 09 (CUDA): an element-wise kernel, a warp-per-row softmax with shuffles, and a
/// shared-memory tiled matrix multiply.
///
/// Every pointer is DEVICE memory (cudaMalloc'ed; the tests use chapter 09's DeviceArray). Each
/// function launches your kernel on the default stream and checks the launch with
/// GPT2_CUDA_CHECK_LAUNCH (chapters/09_cuda/cuda_check.h). Built only with -DGPT2_CUDA=ON; without
/// a GPU the tests report themselves skipped.
#pragma once

namespace exercise {

/// 09.1: dinp (n) += GELU'(inp) * dout (n), element-wise, GELU in its tanh form (chapter 04).
/// Any n >= 0, also more than the grid has threads.
void gelu_backward(float* dinp, const float* inp, const float* dout, int n);

/// 09.2: out (rows, n) = softmax of each row of inp (rows, n), with one warp (32 threads) per
/// row: the row's maximum and sum reduced across the warp with __shfl_xor_sync. Any n >= 1.
void softmax_rows(float* out, const float* inp, int rows, int n);

/// 09.3: out (M, N) = a (M, K) @ b (K, N), row-major, by 16 x 16 blocks of threads, one output
/// element per thread, the inputs staged through 16 x 16 tiles in shared memory. Any sizes >= 1.
void matmul_tiled(float* out, const float* a, const float* b, int M, int K, int N);

}  // namespace exercise
