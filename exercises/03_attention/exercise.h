/// @file exercises/03_attention/exercise.h
/// @brief Exercises 03: the softmax backward pass, causal attention weights, and the backward pass
/// of one attention head.
#pragma once

namespace exercise {

/// 03.1: the backward pass of softmax over each of `rows` rows of n numbers. Given
/// out = softmax(inp) and dout = dL/dout (both (rows, n)), ADD dL/dinp into dinp (rows, n).
void softmax_backward(float* dinp, const float* dout, const float* out, int rows, int n);

/// 03.2: the causal attention weights of one head: att (T, T) with
/// att[t, s] = softmax_s(q_t . k_s / sqrt(HS)) over s <= t, and att[t, s] = 0 for s > t.
/// q and k are (T, HS).
void causal_attention_weights(float* att, const float* q, const float* k, int T, int HS);

/// 03.3: the backward pass of one causal attention head, out = att v with att from 03.2.
/// Given dout (T, HS) = dL/dout, the forward's q, k, v (T, HS) and its weights att (T, T),
/// ADD dL/dq, dL/dk, dL/dv into dq, dk, dv (each (T, HS)).
void attention_head_backward(float* dq, float* dk, float* dv, const float* dout, const float* q,
                             const float* k, const float* v, const float* att, int T, int HS);

}  // namespace exercise
