/// @file exercises/03_attention/exercise.h
/// @brief Exercises 03: the softmax backward pass and causal attention weights.
#pragma once

namespace exercise {

/// 03.1: the backward pass of softmax over each of `rows` rows of n numbers. Given
/// out = softmax(inp) and dout = dL/dout (both (rows, n)), ADD dL/dinp to dinp (rows, n):
/// dinp_i += out_i (dout_i - sum_j out_j dout_j).
void softmax_backward(float* dinp, const float* dout, const float* out, int rows, int n);

/// 03.2: the causal attention weights of one head: att (T, T) with
/// att[t, s] = softmax_s(q_t . k_s / sqrt(HS)) over s <= t, and att[t, s] = 0 for s > t.
/// q and k are (T, HS).
void causal_attention_weights(float* att, const float* q, const float* k, int T, int HS);

}  // namespace exercise
