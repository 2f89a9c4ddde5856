/// @file attention_steps.h
/// @brief Causal attention step by step on the GPU: naive, then fused with an online softmax.
///
/// Both compute chapter 03's attention_forward with the causal mask for q, k, v of shape
/// (B, NH, T, HS) and are tested against it; ch09_bench times them next to CudaBackend's version
/// (batched cuBLAS products around a softmax kernel). Only the forward pass is written here.
#pragma once

namespace gpt2::cuda {

/// Step 1: one thread per query row (b, h, t). It writes its T scores into att (B, NH, T, T),
/// takes their softmax there and sums the value rows: chapter 03's loops, one row per thread.
void attention_naive(float* out, float* att, const float* q, const float* k, const float* v, int B, int NH,
                     int T, int HS);

/// The head size attention_flash handles (GPT-2's is 64 in every size).
inline constexpr int kFlashMaxHeadSize = 64;

/// Step 2: flash-style. A block of 64 threads takes 64 consecutive queries of one head; tiles of
/// 64 keys and values are staged in shared memory, and each thread keeps a running maximum,
/// running sum and running output (the online softmax), so the (T, T) matrix of scores is never
/// written to memory. Writes out (B, NH, T, HS) and, if lse is not null, the log-sum-exp of each
/// row's scores, lse (B, NH, T) (what a flash backward pass would keep instead of att).
/// Requires HS <= kFlashMaxHeadSize.
void attention_flash(float* out, float* lse, const float* q, const float* k, const float* v, int B, int NH,
                     int T, int HS);

}  // namespace gpt2::cuda
