/// @file cross_entropy_fast.h
/// @brief Cross-entropy over GPT-2's 50257-way softmax, vectorised and parallel over rows: the
/// fast twins of chapter 05's cross_entropy.h.
///
/// At B = 4, T = 64 the logits are 256 x 50257 = 12.9 million numbers; the forward takes one exp
/// of each (the log-sum-exp) and the backward another (the softmax). The plain loop's scalar
/// std::exp costs about 20 cycles each; the AVX2 (AVX-512) version computes 8 (16) exps at once
/// with the polynomial of vector_ops.cpp. Rows are independent and each is done by one thread, with its
/// sums added in a fixed order, so the result does not depend on the thread count.
#pragma once

namespace gpt2 {

/// Same arguments and meaning as cross_entropy_forward (chapter 05): losses (N) and the
/// log-sum-exp lse (N) of each row from logits (N, V) and targets (N), -1 meaning no target
/// (loss 0).
void cross_entropy_forward_fast(float* losses, float* lse, const float* logits, const int* targets, int N,
                                int V);

/// dlogits (N, V) += dloss * (softmax(logits) - onehot(targets)) for the rows with a target. Like
/// chapter 05's plain version it recomputes each row's maximum and sum rather than use lse: exp(z -
/// lse) would lose accuracy for large logits, where z - lse rounds to a multiple of eps |lse|.
void cross_entropy_backward_fast(float* dlogits, const float* logits, const float* lse, const int* targets,
                                 float dloss, int N, int V);

}  // namespace gpt2
