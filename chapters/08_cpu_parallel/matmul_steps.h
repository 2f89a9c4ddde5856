/// @file matmul_steps.h
/// @brief The road from the naive triple loop to the fast gemm(), one small function per step.
///
/// All compute out (M, N) = a (M, K) @ b (K, N) for row-major arrays, the forward product of the
/// linear layer without its bias. The benchmark (`ch08_bench`) times each of them on GPT-2's
/// shapes; the chapter's README shows the table and explains each step.
#pragma once

namespace gpt2 {

/// Step 1, the textbook loop: out[i][j] = sum_k a[i][k] b[k][j]. The innermost loop walks down a
/// column of b, one float per 4 * N bytes: every access touches a new cache line.
void matmul_naive(float* out, const float* a, const float* b, int M, int K, int N);

/// Step 2, loop order i-k-j (chapter 04's linear_forward): the innermost loop now walks rows of b
/// and out contiguously, so every cache line is used in full and the compiler can vectorise it.
void matmul_loop_order(float* out, const float* a, const float* b, int M, int K, int N);

/// Step 3, cache blocking: the same i-k-j loop over blocks of b small enough to stay in the L2
/// cache while every row of a passes over them, instead of streaming all of b from memory M times.
void matmul_blocked(float* out, const float* a, const float* b, int M, int K, int N);

/// Step 4, packing and a register-tiled micro-kernel, portable C++, one thread: gemm() with the
/// portable kernel.
void matmul_packed_portable(float* out, const float* a, const float* b, int M, int K, int N);

/// Step 5, the same with the AVX2 + FMA micro-kernel (when the CPU has it), one thread.
void matmul_packed_avx2(float* out, const float* a, const float* b, int M, int K, int N);

/// Step 5b, the same with the AVX-512 micro-kernel (6 x 32 tile of 16-float registers) when the
/// CPU has it (else the best it has), one thread.
void matmul_packed_avx512(float* out, const float* a, const float* b, int M, int K, int N);

/// Step 6, the best micro-kernel on all threads (OpenMP): gemm() as the model calls it.
void matmul_parallel(float* out, const float* a, const float* b, int M, int K, int N);

}  // namespace gpt2
