/// @file exercises/02_embeddings/exercise.h
/// @brief Exercises 02: the sinusoidal positional table, the embedding backward pass, and moving a
/// position by rotating its encoding.
#pragma once

namespace exercise {

/// 02.1: fill out (T, C) with the sinusoidal positional encoding,
/// PE[t, 2i] = sin(t / 10000^(2i / C)), PE[t, 2i + 1] = cos(t / 10000^(2i / C)).
/// When C is odd the last channel is a sine.
void positional_encoding(float* out, int T, int C);

/// 02.2: the backward pass of out[b, t] = wte[tokens[b, t]] + wpe[t]: ADD dout (B, T, C) into the
/// rows of dwte (V, C) named by tokens (B, T), and into rows 0..T-1 of dwpe (maxT, C).
void embedding_backward(float* dwte, float* dwpe, const float* dout, const int* tokens, int B, int T, int C);

/// 02.3: the encoding of position t + k computed from the encoding of position t alone (C even):
/// given pe_t = PE[t, :] (C numbers) and an offset k (may be negative), write PE[t + k, :] to out
/// (C numbers), without knowing t.
void shift_position(double* out, const double* pe_t, int k, int C);

}  // namespace exercise
